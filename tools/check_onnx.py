#!/usr/bin/env python3
"""Check every fixture in tests/fixtures with onnxruntime against its transformers golden.

    python tools/check_onnx.py [FIXTURES_DIR]

Prints the max abs difference per fixture and output; exits 1 if any exceeds 1e-4.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "tests" / "fixtures"
inputs = json.loads((root / "inputs.json").read_text())["cases"]
worst = 0.0
for d in sorted(p for p in root.iterdir() if (p / "golden.json").exists()):
    manifest = json.loads((d / "hark.json").read_text())
    gold = json.loads((d / "golden.json").read_text())["cases"]
    sess = ort.InferenceSession(str(d / manifest["onnx"]), providers=["CPUExecutionProvider"])
    names = [o["name"] for o in manifest["outputs"]]
    for case, g in zip(inputs, gold):
        x = np.asarray(case["normalized"], dtype=np.float32)[None, :]
        outs = sess.run(names, {manifest["input_name"]: x})
        for name, out in zip(names, outs):
            diff = float(np.max(np.abs(out[0] - np.asarray(g["outputs"][name], dtype=np.float32))))
            worst = max(worst, diff)
            print(f"{d.name:18} {case['samples']:6} {name:11} shape {tuple(out.shape)} max|diff| {diff:.2e}")
print(f"worst {worst:.2e}")
sys.exit(0 if worst <= 1e-4 else 1)
