"""Where the time of one prediction goes: bare interpreter.invoke() vs the whole predict().

Everything is measured side by side in one run (round-robin over the
configurations, so drift on a shared machine hits them all alike) and
reported as ratios; absolute times are printed for context only.

    .venv/bin/python bench/inference.py [--rounds 200]

With the training venv present (``make train`` made it), also times the same
model in TensorFlow against TFLite, both in that venv.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelobs.detector import Detector  # noqa: E402
from modelobs.imaging import decode_image  # noqa: E402
from modelobs.preprocess import to_model_input  # noqa: E402


def sample_jpeg() -> bytes:
    """A 640x480 JPEG of a synthetic scene (the generator's, so the model has work to do)."""
    from model_build.synthetic import make_sample

    sample = next(s for s in (make_sample(123, i) for i in range(100)) if s.image.shape[:2] == (480, 640))
    image = Image.fromarray(sample.image)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per configuration")
    parser.add_argument("--skip-tf", action="store_true", help="do not time TensorFlow even if its venv exists")
    args = parser.parse_args()

    jpeg = sample_jpeg()
    configs = {}
    for variant in ("float32", "int8"):
        for threads in (1, 2):
            configs[(variant, threads)] = Detector.load(variant=variant, threads=threads)
    inputs = to_model_input(decode_image(jpeg).image)
    timings: dict[tuple, dict[str, list[float]]] = {k: {"invoke": [], "predict": [], "decode": []} for k in configs}

    for det in configs.values():  # warm up
        for _ in range(5):
            det.predict(jpeg)
    for _ in range(args.rounds):
        for key, det in configs.items():
            t0 = time.perf_counter()
            det.invoke(inputs)
            t1 = time.perf_counter()
            p = det.predict(jpeg)
            t2 = time.perf_counter()
            timings[key]["invoke"].append(t1 - t0)
            timings[key]["predict"].append(t2 - t1)
            timings[key]["decode"].append(p.timings_ms["decode_ms"] / 1e3)

    base = pct(timings[("float32", 1)]["invoke"], 50)
    print(f"640x480 JPEG ({len(jpeg):,} bytes), {args.rounds} rounds, round-robin; times in ms")
    print(f"{'variant':8} {'thr':>3} {'invoke p50':>10} {'p95':>6} {'predict p50':>11} {'p95':>6} "
          f"{'decode p50':>10} {'predict/invoke':>14} {'vs f32x1 invoke':>15}")
    summary = {}
    for (variant, threads), t in timings.items():
        inv50, inv95 = pct(t["invoke"], 50), pct(t["invoke"], 95)
        pre50, pre95 = pct(t["predict"], 50), pct(t["predict"], 95)
        ratio = pre50 / inv50
        summary[f"{variant}x{threads}"] = {"invoke_p50": inv50, "predict_p50": pre50, "predict_over_invoke": ratio}
        print(f"{variant:8} {threads:>3} {inv50:>10.2f} {inv95:>6.2f} {pre50:>11.2f} {pre95:>6.2f} "
              f"{pct(t['decode'], 50):>10.2f} {ratio:>13.2f}x {inv50 / base:>14.2f}x")

    train_python = ROOT / ".venv-train" / "bin" / "python"
    if not args.skip_tf and train_python.exists():
        out = subprocess.run([str(train_python), str(ROOT / "bench" / "tf_vs_tflite.py"), "--rounds", str(min(args.rounds, 100))],
                             capture_output=True, text=True)
        if out.returncode == 0:
            print(out.stdout.strip())
        else:
            print(f"TF comparison failed:\n{out.stderr[-2000:]}")
    else:
        print("TF comparison skipped (no .venv-train; `make train` creates it)")
    print("JSON " + json.dumps(summary))


if __name__ == "__main__":
    main()
