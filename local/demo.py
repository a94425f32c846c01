#!/usr/bin/env python3
"""The demo: days of traffic through the whole loop on the local cloud, read back from Observe.

    make demo                                    # starts what is not running, stops what it started
    .venv/bin/python local/demo.py --days 4 --per-day 24 --keep-running

1. Synthetic scenes (ground truth known) are POSTed to the API as traffic of
   the last few days (``X-Capture-Time``): easy days first, then harder images
   (the generator's difficulty knob), so quality visibly drops.
2. The sampler picks what to review (rate, uncertainty, daily budget) and
   uploads it to Labelbox (the emulator) with the model's boxes as pre-labels.
3. The emulated reviewer draws the true boxes; Labelbox's signed webhook
   stores the review; the evaluate function writes the evaluation and its
   metric line; the log subscription forwards it to Observe (the collector).
4. The table is computed from what Observe received, per prediction day and
   model version.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "local")]

import services  # noqa: E402
import stack  # noqa: E402
from modelobs.keys import capture_day  # noqa: E402
from modelobs.windowed import windows  # noqa: E402

from model_build.synthetic import make_sample  # noqa: E402

#: The demo's sampling: enough reviews per day for a readable table in a few minutes.
DEMO_SAMPLING = {
    "SamplingBaseRate": "0.4",
    "SamplingUncertainRate": "0.9",
    "SamplingEmptyRate": "0.6",
    "SamplingDailyBudget": "14",
}


def request(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 120) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except json.JSONDecodeError:
            return exc.code, {}


def difficulties(days: int) -> list[float]:
    """Easy for the first half, then harder each day: drift the dashboards should show."""
    easy = (days + 1) // 2
    return [0.1] * easy + [min(1.0, 0.55 + 0.2 * i) for i in range(days - easy)]


def capture_times(now: datetime, days_ago: int, n: int) -> list[datetime]:
    """``n`` times on the day ``days_ago`` before ``now``'s, none later than now's time of day.

    So every capture is in the past (the API refuses future capture times)
    and on the intended day, whatever the hour the demo runs at.
    """
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds() - 5
    step = max(elapsed, 0) / max(n, 1)
    return [midnight - timedelta(days=days_ago) + timedelta(seconds=i * step) for i in range(n)]


def send_day(api: str, times: list[datetime], difficulty: float, seed: int, bar: tqdm) -> dict[str, list]:
    truth: dict[str, list] = {}

    def one(i: int) -> None:
        sample = make_sample(seed + int(times[i].strftime("%j")), i, difficulty=difficulty)
        buf = io.BytesIO()
        Image.fromarray(sample.image).save(buf, format="JPEG", quality=90)
        when = times[i].isoformat().replace("+00:00", "Z")
        status, body = request(api + "/predict", buf.getvalue(), {"Content-Type": "image/jpeg", "X-Capture-Time": when})
        if status == 200:
            truth[body["id"]] = [[float(v) for v in box] for box in sample.boxes]
        else:
            tqdm.write(f"  predict failed: {status} {body}")
        bar.update(1)

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, range(len(times))))
    return truth


def wait_until(done, what: str, timeout: float, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = done()
        if value or time.monotonic() > deadline:
            if not value:
                print(f"  (gave up waiting for {what} after {timeout:.0f}s)")
            return value
        time.sleep(every)


def decisions(s3, bucket: str, ids: list[str]) -> dict[str, dict]:
    found = {}
    for cid in ids:
        key = f"sampling/decisions/dt={capture_day(cid)}/{cid}.json"
        try:
            found[cid] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            pass
    return found


def observe_lines() -> list[dict]:
    status, doc = request(services.OBSERVE_URL + "/_collector/observations")
    out = []
    for o in doc.get("observations", []):
        try:
            out.append(json.loads(o["fields"]["message"]))
        except (KeyError, TypeError, json.JSONDecodeError):
            continue
    return out


def fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def run_demo(facts: dict, days: int, per_day: int, seed: int) -> int:
    started = time.monotonic()
    api = facts["api_url"]
    now = datetime.now(timezone.utc)
    if now.hour == 0 and now.minute == 0:  # a minute past midnight: let today have a past
        time.sleep(60 - now.second)
        now = datetime.now(timezone.utc)
    plan = [(capture_times(now, days - 1 - d, per_day), diff) for d, diff in enumerate(difficulties(days))]
    print(f"\n1. Traffic: {days} days x {per_day} images to {api}/predict "
          f"(difficulty {' → '.join(f'{d:.2f}' for _, d in plan)})")
    truth: dict[str, list] = {}
    with tqdm(total=days * per_day, unit="img", desc="   POST /predict", ncols=80, file=sys.stdout) as bar:
        for times, diff in plan:
            truth.update(send_day(api, times, diff, seed, bar))
    bad = [request(api + "/predict", b"not an image", {"Content-Type": "text/plain"})[0],
           request(api + "/predict", b"", {"Content-Type": "image/jpeg"})[0]]
    print(f"   {len(truth)}/{days * per_day} answered 200; bad requests answered {bad}")

    s3 = stack.client("s3")
    ids = list(truth)
    print("\n2. Sampling for review (sampler λ → Labelbox emulator, real SDK)")
    final = wait_until(lambda: (d := decisions(s3, facts["bucket"], ids)) and len(d) == len(ids)
                       and all(x["status"] != "pending" for x in d.values()) and d, "sampling decisions", 240)
    final = final or decisions(s3, facts["bucket"], ids)
    sampled = [cid for cid, d in final.items() if d["status"] == "submitted"]
    budget_cut = sum(1 for d in final.values() if d["reason"].startswith("budget"))
    by_stratum: dict[str, int] = {}
    for cid in sampled:
        by_stratum[final[cid]["stratum"]] = by_stratum.get(final[cid]["stratum"], 0) + 1
    print(f"   {len(sampled)} sent to Labelbox {by_stratum}; {budget_cut} drawn but over the daily budget; "
          f"{sum(1 for d in final.values() if d['status'] == 'not_sampled') - budget_cut} not drawn")

    print("\n3. Human review (the emulator's reviewer draws the true boxes; Labelbox sends signed webhooks)")
    failed_hooks = 0
    for cid in tqdm(sampled, unit="label", desc="   reviews", ncols=80, file=sys.stdout):
        boxes = [{"box": box, "label": "animal"} for box in truth[cid]]
        status, answer = request(services.LABELBOX_URL + "/_emulator/review", json.dumps({"global_key": cid, "boxes": boxes}).encode(),
                                 {"Content-Type": "application/json"})
        if status != 200 or any(d.get("status") != 200 for d in answer.get("deliveries", [])):
            failed_hooks += 1
    print(f"   {len(sampled) - failed_hooks} webhooks accepted, {failed_hooks} failed")

    print("\n4. Evaluations → CloudWatch Logs → Observe")
    wanted = set(sampled)

    def arrived():
        got = {x["capture_id"] for x in observe_lines() if x.get("type") == "evaluation"} & wanted
        return got if got == wanted else None

    got = wait_until(arrived, "evaluation lines in Observe", 180) or (
        {x["capture_id"] for x in observe_lines() if x.get("type") == "evaluation"} & wanted)
    print(f"   {len(got)}/{len(wanted)} evaluation lines received by Observe")

    lines = observe_lines()
    evals = [x for x in lines if x.get("type") == "evaluation" and x.get("capture_id") in truth]
    preds = [x for x in lines if x.get("message") == "prediction" and x.get("capture_id") in truth]
    table = windows(evals, preds)
    print("\nModel quality by prediction day, from what Observe received (IoU 0.5, operating threshold)")
    print(f"{'day':12} {'model version':22} {'images':>6} {'reviewed':>8} {'mean IoU':>8} {'precision':>9} {'recall':>6} {'AP50':>6}")
    for (day, version), w in table.items():
        print(f"{day:12} {version:22} {w['images']:>6} {w['reviewed']:>8} {fmt(w['mean_iou']):>8} "
              f"{fmt(w['precision']):>9} {fmt(w['recall']):>6} {fmt(w['AP50']):>6}")
    print(f"\nDone in {time.monotonic() - started:.0f}s. Records: s3://{facts['bucket']}/ "
          "(captures/, sampling/, reviews/, evaluations/); Observe: " + services.OBSERVE_URL + "/_collector/observations")
    ok = len(truth) == days * per_day and all(b == 400 for b in bad) and got == wanted and not failed_hooks
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=4, help="days of traffic, ending today (default 4)")
    parser.add_argument("--per-day", type=int, default=24, help="images per day (default 24)")
    parser.add_argument("--seed", type=int, default=2026, help="scene seed")
    parser.add_argument("--keep-running", action="store_true", help="leave the local cloud up at the end")
    args = parser.parse_args()
    if not 1 <= args.days <= 30:
        parser.error("--days must be between 1 and 30 (captures older than 30 days are refused)")

    print("==> starting the local cloud (what is not already running)")
    with services.running(keep=args.keep_running) as started:
        facts = stack.deploy(DEMO_SAMPLING)
        print(f"API: {facts['api_url']}")
        code = run_demo(facts, args.days, args.per_day, args.seed)
        if started and not args.keep_running:
            print("\n==> stopping what the demo started: " + ", ".join(s.name for s in started))
        return code


if __name__ == "__main__":
    sys.exit(main())
