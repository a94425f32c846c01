"""The deployed stack on the local cloud: cold start, warm duration, throughput, layer sizes.

    .venv/bin/python bench/cloud.py [--cold 5] [--requests 40]

Needs the stack up (`make up`). Cold starts are forced by changing the
function's configuration (a new execution environment); durations are read
from the REPORT lines the runtime writes to CloudWatch Logs, the way they are
read on AWS. Throughput is measured at concurrency 1 and 4 in the same run and
reported as a ratio. Init on LocalStack's no-Docker executor is a local
process start plus imports, a lower bound on what AWS adds (sandbox, layer
download).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local")]

import stack  # noqa: E402

REPORT = re.compile(r"REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms.*?(?:Init Duration: ([\d.]+) ms)?\s*(?:Status|$)")


def reports(logs, group: str, since_ms: int) -> list[tuple[str, float, float | None]]:
    out = []
    kwargs = {"logGroupName": group, "startTime": since_ms, "filterPattern": "REPORT"}
    while True:
        page = logs.filter_log_events(**kwargs)
        for event in page["events"]:
            m = REPORT.search(event["message"])
            if m:
                out.append((m.group(1), float(m.group(2)), float(m.group(3)) if m.group(3) else None))
        if not page.get("nextToken"):
            return out
        kwargs["nextToken"] = page["nextToken"]


def wait_reports(logs, group: str, since_ms: int, n: int, timeout: float = 30) -> list:
    deadline = time.monotonic() + timeout
    while True:
        found = reports(logs, group, since_ms)
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def layer_sizes() -> dict[str, tuple[float, float]]:
    sizes = {}
    for name in ("ModelobsLayer", "ModelLayer", "LabelboxLayer"):
        root = ROOT / ".aws-sam" / "build" / name
        if not root.is_dir():
            continue
        files = [p for p in root.rglob("*") if p.is_file()]
        unzipped = sum(p.stat().st_size for p in files)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(root))
        sizes[name] = (unzipped / 1e6, len(buf.getvalue()) / 1e6)
    return sizes


def post(url: str, data: bytes) -> float:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "image/jpeg"}, method="POST")
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
        assert response.status == 200
    return time.perf_counter() - t0


def throughput(url: str, data: bytes, concurrency: int, requests: int) -> tuple[float, float]:
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: post(url, data), range(concurrency)))  # every worker warm
        t0 = time.perf_counter()
        latencies = list(pool.map(lambda _: post(url, data), range(requests)))
        elapsed = time.perf_counter() - t0
    return requests / elapsed, float(np.percentile(latencies, 50) * 1e3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", type=int, default=5, help="forced cold starts")
    parser.add_argument("--requests", type=int, default=40, help="requests per throughput measurement")
    args = parser.parse_args()

    facts = stack.outputs()
    fn = facts["functions"]["InferenceFunction"]
    group = f"/aws/lambda/{fn}"
    lam, logs = stack.client("lambda"), stack.client("logs")
    event = json.loads((ROOT / "events" / "predict.json").read_text())
    payload = json.dumps(event).encode()
    import base64

    jpeg = base64.b64decode(event["body"])

    env = lam.get_function_configuration(FunctionName=fn)["Environment"]["Variables"]
    inits, colds, warms = [], [], []
    for i in range(args.cold):
        env["BENCH_COLD_START"] = f"{time.time()}-{i}"
        lam.update_function_configuration(FunctionName=fn, Environment={"Variables": env})
        lam.get_waiter("function_updated_v2").wait(FunctionName=fn)
        since = int(time.time() * 1000) - 1000
        for _ in range(4):
            lam.invoke(FunctionName=fn, Payload=payload)
        found = wait_reports(logs, group, since, 4)
        for _, duration, init in found:
            (inits.append(init), colds.append(duration)) if init is not None else warms.append(duration)
        print(f"cold start {i + 1}/{args.cold}: init {inits[-1] if inits else float('nan'):.0f} ms", flush=True)

    url = facts["api_url"] + "/predict"
    rps1, p50_1 = throughput(url, jpeg, 1, args.requests)
    rps4, p50_4 = throughput(url, jpeg, 4, args.requests)

    print("\nInference function on the local cloud (LocalStack + no-Docker executor)")
    print(f"  cold start Init Duration  p50 {np.median(inits):.0f} ms  (n={len(inits)}, min {min(inits):.0f}, max {max(inits):.0f})")
    print(f"  first invoke after init   p50 {np.median(colds):.1f} ms")
    print(f"  warm invoke Duration      p50 {np.median(warms):.1f} ms  (n={len(warms)}); cold/warm {np.median(colds) / np.median(warms):.1f}x")
    print(f"  API end to end            c=1: {rps1:.1f} req/s, p50 {p50_1:.0f} ms;  c=4: {rps4:.1f} req/s, p50 {p50_4:.0f} ms;  "
          f"c=4 / c=1 throughput {rps4 / rps1:.2f}x")
    for name, (unzipped, zipped) in layer_sizes().items():
        print(f"  layer {name:14} {unzipped:6.1f} MB unzipped, {zipped:5.1f} MB zipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
