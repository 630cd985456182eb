"""Sentence generator for hark's demo-model training data (reproducible from a seed).

Everything is written by the project: a small template grammar (statements, questions,
commands, times, dates, numbers, names), random phrases from the system word list
(/usr/share/dict/words, Debian package wamerican, when present) and the text normalizer that maps
any sentence to the model alphabet (A-Z, apostrophe, space; numbers spelled out).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
           "nine": "ninth", "twelve": "twelfth"}


def number_words(n: int) -> str:
    if n < 0:
        return "minus " + number_words(-n)
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    if n < 1000:
        rest = n % 100
        return ONES[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_words(rest))
    for div, name in ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand")):
        if n >= div:
            rest = n % div
            head = number_words(n // div) + " " + name
            if rest == 0:
                return head
            return head + (" and " if rest < 100 else " ") + number_words(rest)
    raise ValueError(n)


def ordinal_words(n: int) -> str:
    words = number_words(n).split()
    last = words[-1]
    if last in ORDINAL:
        words[-1] = ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def year_words(y: int) -> str:
    if 2000 <= y < 2010:
        return number_words(y)
    hi, lo = divmod(y, 100)
    if lo == 0:
        return number_words(hi) + " hundred"
    return number_words(hi) + " " + (("oh " + ONES[lo]) if lo < 10 else number_words(lo))


def normalize(text: str) -> str:
    """Any English sentence to the model alphabet: upper case A-Z, apostrophe, single spaces."""
    text = text.replace("’", "'").replace("&", " and ").replace("%", " percent ")
    text = re.sub(r"(\d+)(st|nd|rd|th)\b", lambda m: ordinal_words(int(m.group(1))), text)
    text = re.sub(r"\b(1[1-9]\d\d)\b", lambda m: year_words(int(m.group(1))), text)
    text = re.sub(r"\d+", lambda m: " " + number_words(int(m.group(0))) + " ", text)
    text = text.upper().replace("-", " ")
    text = re.sub(r"[^A-Z' ]+", " ", text)
    text = re.sub(r"(^| )'+|'+( |$)", " ", text)
    return re.sub(r"\s+", " ", text).strip()


NAMES = ["alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "isabel", "jack",
         "karen", "liam", "maria", "noah", "olivia", "peter", "quinn", "rachel", "sam", "tina",
         "victor", "wendy", "xavier", "yusuf", "zoe", "anna", "ben", "chloe", "daniel", "ella",
         "george", "hannah", "ian", "julia", "kevin", "laura", "mark", "nina", "oscar", "paula"]
PLACES = ["the station", "the office", "the market", "the library", "the park", "the river",
          "the kitchen", "the airport", "the museum", "the school", "the hospital", "the garden",
          "the harbour", "the bridge", "the village", "the city centre", "the old mill",
          "the north gate", "the beach", "the hotel", "the bakery", "the cinema"]
OBJECTS = ["the red box", "a cup of tea", "the blue car", "a small dog", "the big window",
           "an old letter", "the new phone", "a loaf of bread", "the heavy door", "a paper map",
           "the green bottle", "some fresh water", "the wooden chair", "a yellow coat",
           "the silver key", "a long rope", "the broken clock", "a basket of apples",
           "the last train", "a warm blanket", "the quiet room", "a bright lamp"]
VERBS_PAST = ["found", "moved", "opened", "painted", "carried", "washed", "bought", "sold",
              "dropped", "fixed", "cleaned", "watched", "counted", "checked", "closed",
              "brought", "took", "left", "kept", "showed", "wanted", "needed"]
VERBS_BASE = ["find", "move", "open", "paint", "carry", "wash", "buy", "sell", "drop", "fix",
              "clean", "watch", "count", "check", "close", "bring", "take", "leave", "keep",
              "show", "call", "help"]
ADJ = ["quick", "slow", "happy", "tired", "careful", "quiet", "loud", "bright", "dark", "cold",
       "warm", "early", "late", "strange", "simple", "gentle", "brave", "clever", "busy", "calm"]
ADV = ["quickly", "slowly", "carefully", "quietly", "yesterday", "today", "tomorrow", "again",
       "later", "soon", "never", "always", "sometimes", "together", "outside", "upstairs"]
TIMES = ["in the morning", "at night", "after lunch", "before dinner", "on monday",
         "on tuesday", "on wednesday", "on thursday", "on friday", "on saturday", "on sunday",
         "last week", "next year", "every day", "this evening", "at noon"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
WEATHER = ["rain", "snow", "wind", "sunshine", "fog", "thunder", "clouds", "frost"]


def _template(rng: random.Random) -> str:
    n, p, o = rng.choice(NAMES), rng.choice(PLACES), rng.choice(OBJECTS)
    t = rng.randrange(24)
    templates = [
        lambda: f"{n} {rng.choice(VERBS_PAST)} {o} {rng.choice(TIMES)}",
        lambda: f"please {rng.choice(VERBS_BASE)} {o} and meet me at {p}",
        lambda: f"did you see {n} near {p} {rng.choice(ADV)}",
        lambda: f"where did {n} {rng.choice(VERBS_BASE)} {o}",
        lambda: f"the meeting starts at {number_words(rng.randint(1, 12))} o'clock {rng.choice(TIMES)}",
        lambda: f"it is {number_words(rng.randint(1, 12))} {number_words(rng.randint(10, 59))} now",
        lambda: f"we need {number_words(rng.randint(2, 999))} {rng.choice(['chairs', 'tickets', 'boxes', 'people', 'minutes', 'dollars', 'pages'])} for {p}",
        lambda: f"my number is {' '.join(ONES[rng.randrange(10)] for _ in range(rng.randint(3, 7)))}",
        lambda: f"the {rng.choice(ADJ)} {rng.choice(['man', 'woman', 'child', 'driver', 'teacher', 'doctor', 'farmer', 'pilot'])} walked to {p} {rng.choice(ADV)}",
        lambda: f"there will be {rng.choice(WEATHER)} {rng.choice(TIMES)} so take {o}",
        lambda: f"on the {ordinal_words(rng.randint(1, 31))} of {rng.choice(MONTHS)} {n} will visit {p}",
        lambda: f"in {year_words(rng.randint(1850, 2030))} the {rng.choice(ADJ)} {rng.choice(['king', 'queen', 'mayor', 'captain', 'writer'])} {rng.choice(VERBS_PAST)} {o}",
        lambda: f"can you tell {n} that {o} is in {p}",
        lambda: f"i think {n} is {rng.choice(ADJ)} because it is {rng.choice(ADJ)} outside",
        lambda: f"turn {rng.choice(['left', 'right'])} after {p} and go {rng.choice(['straight on', 'up the hill', 'past the church'])}",
        lambda: f"the train to {p.replace('the ', '')} leaves at {number_words(t)} {number_words(rng.choice([15, 30, 45]))}",
        lambda: f"why is {o} {rng.choice(['on the floor', 'in the sink', 'under the bed', 'behind the door'])}",
        lambda: f"{n} and {rng.choice(NAMES)} {rng.choice(['played', 'talked', 'worked', 'laughed', 'waited'])} {rng.choice(ADV)}",
        lambda: f"set a timer for {number_words(rng.randint(1, 90))} minutes",
        lambda: f"the temperature is {number_words(rng.randint(-10, 40))} degrees {rng.choice(TIMES)}",
        lambda: f"we {rng.choice(['can', 'will', 'should', 'must', 'could'])} {rng.choice(VERBS_BASE)} {o} {rng.choice(ADV)}",
        lambda: f"it costs {number_words(rng.randint(1, 500))} dollars and {number_words(rng.randint(1, 99))} cents",
        lambda: f"who {rng.choice(VERBS_PAST)} {o} at {p}",
        lambda: f"she said that {n} would not {rng.choice(VERBS_BASE)} {o}",
        lambda: f"he doesn't know what {n} wants",
        lambda: f"they're going to {p} {rng.choice(TIMES)} aren't they",
    ]
    return rng.choice(templates)()


def load_wordlist(path: str = "/usr/share/dict/words") -> list[str]:
    p = Path(path)
    if not p.exists():
        return []
    words = [w.strip() for w in p.read_text(errors="ignore").splitlines()]
    return [w.lower() for w in words if w.isalpha() and w.isascii() and w.islower() and 2 <= len(w) <= 11]


def sentences(seed: int, n: int, wordlist: list[str], corpus: list[str]) -> list[str]:
    """n normalized sentences: 55% templates, 25% random word-list phrases, 20% corpus text."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.55 or (not wordlist and not corpus):
            s = _template(rng)
        elif r < 0.80 and wordlist:
            s = " ".join(rng.choice(wordlist) for _ in range(rng.randint(3, 9)))
        else:
            s = rng.choice(corpus) if corpus else _template(rng)
        s = normalize(s)
        if s:
            out.append(s)
    return out


# Short utterances (since session 55): everyday replies, greetings and commands of one to four
# words. Until then nearly every training utterance under 1.2 s was an fsdd digit (1994 of 1995), and
# the model read short words alone as digits (HELLO as FIVE, NO as NINE; models/demo/README.md,
# Known gaps). A quarter of the phrases (by CRC-32 of the text) are held out for evaluation.
SHORT_PHRASES = [
    "yes", "no", "okay", "sure", "right", "thanks", "thank you", "thank you very much", "hello", "hi",
    "hey", "bye", "goodbye", "good morning", "good afternoon", "good evening", "good night",
    "see you later", "see you tomorrow", "how are you", "i'm fine", "not bad", "sorry", "excuse me",
    "pardon", "please", "of course", "maybe", "perhaps", "probably", "exactly", "absolutely",
    "definitely", "i agree", "i don't know", "i don't think so", "i think so", "me too", "not yet",
    "not really", "really", "why", "what", "where", "when", "who", "how", "which one", "why not",
    "what time is it", "stop", "wait", "wait a moment", "hold on", "one moment", "just a second",
    "go ahead", "come in", "let's go", "let's start", "all right", "alright then", "never mind",
    "no problem", "no thanks", "you're welcome", "well done", "good job", "great", "cool", "nice",
    "fine", "perfect", "wonderful", "terrible", "help", "help me", "start", "pause", "continue",
    "again", "once more", "louder please", "slower please", "can you hear me", "i can hear you",
    "can you see my screen", "next slide", "previous slide", "any questions", "good question",
    "that's right", "that's wrong", "that's it", "that's all", "let me think", "listen",
    "look", "follow me", "over here", "over there", "come back", "turn it off", "turn it on",
    "open the door", "close the window", "call me", "call me back", "send it", "save it",
    "cancel", "delete it", "undo", "yes please", "no way", "oh no", "oh really", "uh huh",
    "sounds good", "good luck", "congratulations", "happy birthday", "cheers", "welcome",
    "welcome back", "take care", "have a nice day", "i'm sorry", "it's okay", "don't worry",
    "be careful", "watch out", "hurry up", "slow down", "sit down", "stand up", "come here",
]


def short_held_out(phrase: str) -> bool:
    """Whether a short phrase belongs to the held-out quarter (stable across runs and machines)."""
    import zlib

    return zlib.crc32(phrase.encode()) % 4 == 0


def short_utterances(seed: int, n: int, held_out: bool = False) -> list[str]:
    """n normalized short utterances. Training (held_out False): 70% a training phrase, 30% one or
    two words from the template grammar's lists (names, adjectives, verbs, weather, months);
    held out: the held-out phrases only."""
    rng = random.Random(seed)
    phrases = [p for p in SHORT_PHRASES if short_held_out(p) == held_out]
    singles = NAMES + ADJ + VERBS_BASE + WEATHER + MONTHS + ADV
    out = []
    for _ in range(n):
        if held_out or rng.random() < 0.7:
            s = rng.choice(phrases)
        else:
            s = " ".join(rng.choice(singles) for _ in range(rng.randint(1, 2)))
        out.append(normalize(s))
    return out
