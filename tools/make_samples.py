#!/usr/bin/env python3
"""Make the short TTS sample clips in assets/ (held-out voices and sentences) and their
reference texts in assets/samples.tsv (file, voice, text). Used by README and tests.

    python tools/make_samples.py
"""

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import textgen  # noqa: E402

# Voices held out from training (see HELD_OUT in make_data.py); sentences written for the
# samples, outside the training text generator's templates.
SAMPLES = [
    ("hello-espeak-en-029.wav", "espeak", "en-029+m3", "hello world this is hark a live captioning tool"),
    ("weather-flite-slt.wav", "flite", "slt", "the weather will be sunny and warm this afternoon"),
    ("window-festival-ked.wav", "festival", "ked_diphone", "open the window and let the fresh air in"),
    ("phone-espeak-en-029.wav", "espeak", "en-029+f2", "my phone number is five five five one two three four"),
]


def main() -> None:
    assets = ROOT / "assets"
    assets.mkdir(exist_ok=True)
    rows = []
    for name, engine, voice, text in SAMPLES:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            if engine == "espeak":
                subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
            elif engine == "flite":
                subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True)
            else:
                txt = Path(tmp) / "t.txt"
                txt.write_text(text)
                subprocess.run(["text2wave", "-eval", f"(voice_{voice})", "-o", str(raw), str(txt)], check=True)
            # 16 kHz mono 16-bit with 0.3 s of silence on both sides.
            subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(assets / name),
                            "pad", "0.3", "0.3"], check=True)
        rows.append({"file": name, "voice": f"{engine}:{voice}", "text": textgen.normalize(text)})
        print(f"{name}: {text}")
    with open(assets / "samples.tsv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "voice", "text"], delimiter="\t")
        w.writeheader()
        w.writerows(rows)


if __name__ == "__main__":
    main()
