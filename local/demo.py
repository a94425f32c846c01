#!/usr/bin/env python3
"""The demo: traffic through the local cloud's API, and what the system kept of it.

    make demo                     # starts the local cloud if needed, deploys, runs, stops what it started
    .venv/bin/python local/demo.py --images 40 --concurrency 2 --keep-running

Synthetic scenes (with known ground truth) are POSTed to ``/predict`` on
LocalStack's API Gateway, half as raw JPEG bodies and half as multipart PNG
forms, plus a few bad requests. The table shows what the API answered and how
it compares with the truth; the summary checks what reached S3.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local")]

import services  # noqa: E402
import stack  # noqa: E402
from model_build.synthetic import make_sample  # noqa: E402
from modelobs.matching import image_stats  # noqa: E402


@dataclass
class Result:
    name: str
    status: int
    body: dict
    seconds: float
    gt: np.ndarray | None = None


def post(url: str, data: bytes, content_type: str, timeout: float = 120) -> tuple[int, dict, float]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    elapsed = time.perf_counter() - started
    try:
        return status, json.loads(raw), elapsed
    except json.JSONDecodeError:
        return status, {"raw": raw.decode("utf-8", "replace")[:200]}, elapsed


def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def encode(image: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    return buf.getvalue()


def send_scene(url: str, index: int, seed: int) -> Result:
    sample = make_sample(seed, index, difficulty=0.2)
    if index % 2 == 0:
        status, body, secs = post(url, encode(sample.image, "JPEG"), "image/jpeg")
        name = f"scene-{index:03d}.jpg"
    else:
        form, ctype = multipart("image", f"scene-{index:03d}.png", encode(sample.image, "PNG"), "image/png")
        status, body, secs = post(url, form, ctype)
        name = f"scene-{index:03d}.png (form)"
    return Result(name, status, body, secs, np.asarray(sample.boxes, dtype=float).reshape(-1, 4))


BAD_REQUESTS = [
    ("text body", b"hello, I am not a picture", "text/plain"),
    ("empty body", b"", "image/jpeg"),
    ("truncated jpeg", None, "image/jpeg"),
]


def run_demo(facts: dict, images: int, concurrency: int, seed: int) -> int:
    url = facts["api_url"] + "/predict"
    print(f"\nSending {images} synthetic scenes to {url} ({concurrency} at a time)")
    results: list[Result] = []
    with ThreadPoolExecutor(concurrency) as pool:
        futures = [pool.submit(send_scene, url, i, seed) for i in range(images)]
        for future in tqdm(futures, unit="img", desc="POST /predict", file=sys.stdout, ncols=80):
            results.append(future.result())
    truncated = encode(make_sample(seed, 999).image, "JPEG")[:1500]
    for name, data, ctype in BAD_REQUESTS:
        status, body, secs = post(url, truncated if data is None else data, ctype)
        results.append(Result(name, status, body, secs))

    print(f"\n{'request':24} {'status':>6} {'truth':>5} {'found':>5} {'TP':>3} {'best':>5} {'mean IoU':>8} {'ms':>7}  note")
    tp = fp = fn = 0
    iou_sum = 0.0
    for r in results:
        if r.status == 200 and r.gt is not None:
            dets = r.body["detections"]
            stats = image_stats(
                r.gt, ["animal"] * len(r.gt),
                np.array([d["box"] for d in dets], dtype=float).reshape(-1, 4),
                np.array([d["score"] for d in dets], dtype=float), [d["label"] for d in dets],
                score_threshold=r.body["threshold"],
            ).at_threshold
            tp, fp, fn = tp + stats.tp, fp + stats.fp, fn + stats.fn
            iou_sum += (stats.mean_iou or 0.0) * stats.tp
            best = max((d["score"] for d in dets), default=0.0)
            miou = f"{stats.mean_iou:.2f}" if stats.mean_iou is not None else "-"
            print(f"{r.name:24} {r.status:>6} {len(r.gt):>5} {len(dets):>5} {stats.tp:>3} {best:>5.2f} {miou:>8} {r.seconds * 1e3:>7.0f}")
        else:
            note = r.body.get("error", "") + ": " + r.body.get("message", r.body.get("raw", ""))[:60]
            print(f"{r.name:24} {r.status:>6} {'':>5} {'':>5} {'':>3} {'':>5} {'':>8} {r.seconds * 1e3:>7.0f}  {note}")

    ok = [r for r in results if r.gt is not None and r.status == 200]
    bad_ok = all(r.status in (400, 413, 415) for r in results if r.gt is None)
    latencies = np.array([r.seconds for r in ok]) * 1e3
    s3 = stack.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=facts["bucket"], Prefix="captures/")
            for o in page.get("Contents", [])]
    ids = {r.body["id"] for r in ok}
    stored = {k.rsplit("/", 1)[1].split(".")[0] for k in keys}
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    print("\nSummary")
    print(f"  requests       {len(ok)}/{images} scenes answered 200; bad requests rejected with 4xx: {'yes' if bad_ok else 'NO'}")
    print(f"  quality        precision {precision:.3f}, recall {recall:.3f} at the operating threshold (IoU 0.5), "
          f"mean IoU of matches {iou_sum / tp if tp else float('nan'):.3f}")
    if len(latencies):
        print(f"  latency        p50 {np.percentile(latencies, 50):.0f} ms, p95 {np.percentile(latencies, 95):.0f} ms "
              "(end to end through API Gateway on LocalStack, first request includes the cold start)")
    print(f"  S3             {len(keys)} objects under captures/ in {facts['bucket']}; "
          f"every answered request stored: {'yes' if ids <= stored else 'NO'}")
    print(f"  model          {ok[0].body['model'] if ok else '-'}")
    return 0 if len(ok) == images and bad_ok and ids <= stored else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=24, help="synthetic scenes to send (default 24)")
    parser.add_argument("--concurrency", type=int, default=2, help="requests in flight (default 2)")
    parser.add_argument("--seed", type=int, default=2026, help="scene seed")
    parser.add_argument("--keep-running", action="store_true", help="leave the local cloud up at the end")
    args = parser.parse_args()

    print("==> starting the local cloud (what is not already running)")
    with services.running(keep=args.keep_running) as started:
        facts = stack.deploy()
        print(f"API: {facts['api_url']}")
        code = run_demo(facts, args.images, args.concurrency, args.seed)
        if started and not args.keep_running:
            print("\n==> stopping what the demo started: " + ", ".join(s.name for s in started))
        return code


if __name__ == "__main__":
    sys.exit(main())
