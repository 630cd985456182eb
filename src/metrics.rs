//! Quality metrics used by tests, the evaluation example and the model card: reference-text
//! normalization, character/word error rates and the equal error rate of speaker scores.

const ONES: [&str; 20] = [
    "ZERO",
    "ONE",
    "TWO",
    "THREE",
    "FOUR",
    "FIVE",
    "SIX",
    "SEVEN",
    "EIGHT",
    "NINE",
    "TEN",
    "ELEVEN",
    "TWELVE",
    "THIRTEEN",
    "FOURTEEN",
    "FIFTEEN",
    "SIXTEEN",
    "SEVENTEEN",
    "EIGHTEEN",
    "NINETEEN",
];
const TENS: [&str; 10] = [
    "", "", "TWENTY", "THIRTY", "FORTY", "FIFTY", "SIXTY", "SEVENTY", "EIGHTY", "NINETY",
];

/// English words for a non-negative integer (`"ONE HUNDRED AND FIVE"`), as the training text
/// normalizer (`tools/textgen.py`) spells them.
pub fn number_words(n: u64) -> String {
    if n < 20 {
        return ONES[n as usize].to_string();
    }
    if n < 100 {
        let t = TENS[(n / 10) as usize];
        return if n.is_multiple_of(10) {
            t.to_string()
        } else {
            format!("{t} {}", ONES[(n % 10) as usize])
        };
    }
    if n < 1000 {
        let head = format!("{} HUNDRED", ONES[(n / 100) as usize]);
        return if n.is_multiple_of(100) {
            head
        } else {
            format!("{head} AND {}", number_words(n % 100))
        };
    }
    for (div, name) in [
        (1_000_000_000, "BILLION"),
        (1_000_000, "MILLION"),
        (1000, "THOUSAND"),
    ] {
        if n >= div {
            let head = format!("{} {name}", number_words(n / div));
            let rest = n % div;
            return match rest {
                0 => head,
                r if r < 100 => format!("{head} AND {}", number_words(r)),
                r => format!("{head} {}", number_words(r)),
            };
        }
    }
    unreachable!()
}

/// Maps a reference transcript to the model alphabet: upper case A–Z and apostrophes, numbers
/// spelled out, everything else a word break, single spaces.
pub fn normalize_text(text: &str) -> String {
    let mut spaced = String::with_capacity(text.len() + 8);
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            let n: u64 = digits.parse().unwrap_or(0);
            out.push(' ');
            out.push_str(&number_words(n));
            out.push(' ');
            digits.clear();
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        flush(&mut digits, &mut spaced);
        let c = if c == '’' { '\'' } else { c };
        if c.is_ascii_alphabetic() || c == '\'' {
            spaced.push(c.to_ascii_uppercase());
        } else {
            spaced.push(' ');
        }
    }
    flush(&mut digits, &mut spaced);
    spaced
        .split_whitespace()
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Levenshtein distance between two sequences.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(prev + usize::from(x != y));
            prev = cur;
        }
    }
    row[b.len()]
}

/// Accumulates character and word errors over many utterances.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ErrorRates {
    /// Character edits.
    pub char_errors: usize,
    /// Reference characters.
    pub chars: usize,
    /// Word edits.
    pub word_errors: usize,
    /// Reference words.
    pub words: usize,
    /// Utterances.
    pub utterances: usize,
}

impl ErrorRates {
    /// Adds one hypothesis/reference pair (both already normalized).
    pub fn add(&mut self, hyp: &str, reference: &str) {
        let hc: Vec<char> = hyp.chars().collect();
        let rc: Vec<char> = reference.chars().collect();
        self.char_errors += edit_distance(&hc, &rc);
        self.chars += rc.len();
        let hw: Vec<&str> = hyp.split_whitespace().collect();
        let rw: Vec<&str> = reference.split_whitespace().collect();
        self.word_errors += edit_distance(&hw, &rw);
        self.words += rw.len();
        self.utterances += 1;
    }

    /// Character error rate.
    pub fn cer(&self) -> f64 {
        self.char_errors as f64 / self.chars.max(1) as f64
    }

    /// Word error rate.
    pub fn wer(&self) -> f64 {
        self.word_errors as f64 / self.words.max(1) as f64
    }
}

/// Equal error rate of verification scores (`same[i]`: whether pair `i` is one speaker).
/// Returns the mean of the miss and false-alarm rates at the threshold where they are closest.
pub fn equal_error_rate(scores: &[f32], same: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let pos = same.iter().filter(|s| **s).count().max(1) as f64;
    let neg = same.iter().filter(|s| !**s).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut best = (f64::INFINITY, 1.0);
    for &i in &order {
        if same[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let miss = 1.0 - tp / pos;
        let fa = fp / neg;
        if (miss - fa).abs() < best.0 {
            best = ((miss - fa).abs(), (miss + fa) / 2.0);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_spell_like_the_training_text() {
        assert_eq!(number_words(0), "ZERO");
        assert_eq!(number_words(42), "FORTY TWO");
        assert_eq!(number_words(105), "ONE HUNDRED AND FIVE");
        assert_eq!(number_words(2024), "TWO THOUSAND AND TWENTY FOUR");
        assert_eq!(
            number_words(2345),
            "TWO THOUSAND THREE HUNDRED AND FORTY FIVE"
        );
        assert_eq!(number_words(1_000_001), "ONE MILLION AND ONE");
    }

    #[test]
    fn normalizes_punctuation_case_and_digits() {
        assert_eq!(
            normalize_text("And so, my fellow Americans: ask not — it's 3 o'clock!"),
            "AND SO MY FELLOW AMERICANS ASK NOT IT'S THREE O'CLOCK"
        );
        assert_eq!(normalize_text("  'quoted'  words "), "QUOTED WORDS");
    }

    #[test]
    fn error_rates() {
        let mut e = ErrorRates::default();
        e.add("HELLO WORD", "HELLO WORLD");
        assert_eq!(e.word_errors, 1);
        assert_eq!(e.words, 2);
        assert_eq!(e.char_errors, 1);
        assert!((e.wer() - 0.5).abs() < 1e-12);
        assert!((e.cer() - 1.0 / 11.0).abs() < 1e-12);
    }

    #[test]
    fn eer_of_separable_and_random_scores() {
        let scores = [0.9, 0.8, 0.7, 0.2, 0.1, 0.0];
        let same = [true, true, true, false, false, false];
        assert_eq!(equal_error_rate(&scores, &same), 0.0);
        let same = [false, false, false, true, true, true];
        assert_eq!(equal_error_rate(&scores, &same), 1.0);
        let scores = [0.9, 0.8, 0.7, 0.6];
        let same = [true, false, true, false];
        assert!((equal_error_rate(&scores, &same) - 0.5).abs() < 1e-12);
    }
}
