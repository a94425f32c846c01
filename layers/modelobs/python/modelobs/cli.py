"""The ``modelobs`` command line.

Each subcommand is a thin wrapper over a library function, so whatever the
CLI does a test (or a Lambda) can do by calling the same function. To add a
subcommand, write ``_add_<name>(sub)`` that adds its parser and sets
``func``, and list it in ``_SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .imaging import DEFAULT_MAX_BYTES


def _predict(args: argparse.Namespace) -> int:
    """One JSON line per image on stdout; a bad image is reported on stderr and the rest still run."""
    from .detector import Detector
    from .errors import InvalidImageError
    from .model_card import ModelNotFoundError

    try:
        detector = Detector.load(args.model_dir, threads=args.threads, variant=args.variant)
    except (ModelNotFoundError, ImportError) as exc:
        print(f"modelobs predict: {exc}", file=sys.stderr)
        return 2
    failed = 0
    for name in args.images:
        try:
            with open(name, "rb") as fh:
                data = fh.read()
            prediction = detector.predict(data, max_bytes=args.max_bytes)
        except (OSError, InvalidImageError) as exc:
            failed += 1
            message = exc.message if isinstance(exc, InvalidImageError) else f"cannot read: {exc.strerror or exc}"
            print(f"modelobs predict: {name}: {message}", file=sys.stderr)
            continue
        detections = prediction.detections if args.all else prediction.confident()
        record = {
            "image": name,
            "width": prediction.width,
            "height": prediction.height,
            "detections": [d.to_dict() for d in detections],
        }
        if args.all:
            record["threshold"] = prediction.threshold
        print(json.dumps(record), flush=True)
    return 1 if failed else 0


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="detect animals in image files",
        description="Run the detector on each IMAGE and print one JSON object per image: "
        '{"image", "width", "height", "detections": [{"box": [x1, y1, x2, y2], "score", "label"}]}. '
        "Boxes are pixels of the original image (after EXIF rotation). Exit status 1 if any image "
        "could not be read or decoded (each reported on stderr), 2 if the model cannot be loaded.",
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG, PNG, WebP, GIF, BMP or TIFF file")
    p.add_argument("--all", action="store_true",
                   help="print every candidate above the score floor (and the operating threshold), not only confident ones")
    p.add_argument("--model-dir", type=Path, default=None,
                   help="folder with detector.json and the .tflite (default: $MODELOBS_MODEL_DIR, /opt/model, the checkout's)")
    p.add_argument("--variant", choices=["float32", "int8"], default=None, help="model variant (default: the card's)")
    p.add_argument("--threads", type=int, default=None, help="TFLite interpreter threads (default: $MODELOBS_THREADS or 1)")
    p.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="reject files larger than this")
    p.set_defaults(func=_predict)


def _eval_coco(args: argparse.Namespace) -> int:
    """Print the 12 COCO bbox stats as one JSON object; a bad file exits 2 naming it and why."""
    from .coco_eval import CocoFormatError, coco_eval

    loaded = []
    for path in (args.gt, args.dt):
        try:
            with open(path, encoding="utf-8") as fh:
                loaded.append(json.load(fh))
        except OSError as exc:
            print(f"modelobs eval-coco: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
            return 2
        except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
            print(f"modelobs eval-coco: {path}: not valid JSON: {exc}", file=sys.stderr)
            return 2
    try:
        stats = coco_eval(*loaded)
    except CocoFormatError as exc:
        print(f"modelobs eval-coco: {args.dt if exc.source == 'dt' else args.gt}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(stats))
    return 0


def _add_eval_coco(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-coco",
        help="COCO bbox AP/AR of detections against ground truth (pycocotools' numbers)",
        description="Evaluate COCO results DT (a list of {image_id, category_id, bbox [x, y, w, h], score}) "
        "against COCO ground truth GT (images, annotations, categories) and print one JSON object with "
        "AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl, equal to pycocotools' COCOeval "
        "(-1 where undefined). Exit status 2 if a file cannot be read or is not valid COCO.",
    )
    p.add_argument("gt", metavar="GT.json", help="ground truth in COCO format")
    p.add_argument("dt", metavar="DT.json", help="detections as a COCO results list")
    p.set_defaults(func=_eval_coco)


def _replay_observe(args: argparse.Namespace) -> int:
    """Re-send the batches the forwarder could not deliver; each is deleted only once Observe took it."""
    from .observe import ObserveClient, ObserveConfig
    from .observe_forward import replay_s3
    from .observe_secret import token_from_env

    try:
        config = ObserveConfig.from_env()
    except ValueError as exc:
        print(f"modelobs replay observe: {exc}", file=sys.stderr)
        return 2
    report = replay_s3(_aws_client("s3", args.endpoint_url), args.bucket, ObserveClient(config, token_provider=token_from_env))
    print(json.dumps(report.to_dict()))
    return 0 if report.ok else 1


def _add_replay(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="re-send what a forwarder kept after failures",
                       description="Re-send stored failures. Today: `replay observe`.")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    o = targets.add_parser(
        "observe",
        help="re-send batches the Observe forwarder stored under forwarder-failures/",
        description="Re-send every batch under s3://BUCKET/forwarder-failures/ to Observe and delete each once "
        "it is accepted (a partly accepted batch is rewritten with the rest). Observe settings come from the "
        "environment as in the function: OBSERVE_CUSTOMER_ID or OBSERVE_ENDPOINT, and the token from "
        "OBSERVE_TOKEN_SECRET_ID, OBSERVE_TOKEN_PARAMETER or OBSERVE_TOKEN. Exit 1 if anything is still failing.",
    )
    o.add_argument("--bucket", default=os.environ.get("MODELOBS_BUCKET"), required=not os.environ.get("MODELOBS_BUCKET"),
                   help="the stack's bucket (default: $MODELOBS_BUCKET)")
    o.add_argument("--endpoint-url", default=None, help="S3 endpoint, e.g. http://127.0.0.1:4566 for the local cloud")
    o.set_defaults(func=_replay_observe)


def _aws_client(service: str, endpoint_url: str | None):
    import boto3

    return boto3.client(service, **({"endpoint_url": endpoint_url} if endpoint_url else {}))


def _labelbox_setup(args: argparse.Namespace) -> int:
    """Create or find the Labelbox dataset, ontology, project and webhook; store their ids in SSM."""
    from .labelbox_connect import connect
    from .labelbox_errors import LabelboxError
    from .labelbox_setup import ensure_setup
    from .secrets import SecretNotConfiguredError, secret_value

    try:
        sm = _aws_client("secretsmanager", args.endpoint_url)
        api_key = os.environ.get("LABELBOX_API_KEY") or secret_value(
            args.api_key_secret_id, setting="--api-key-secret-id (or LABELBOX_API_KEY)", client=sm)
        webhook_secret = os.environ.get("LABELBOX_WEBHOOK_SECRET") or secret_value(
            args.webhook_secret_id, setting="--webhook-secret-id (or LABELBOX_WEBHOOK_SECRET)", client=sm)
        ids = ensure_setup(
            connect(api_key=api_key, api_url=args.api_url), args.dataset, args.project,
            webhook_url=args.webhook_url, webhook_secret=webhook_secret, replace_webhook=args.replace_webhook,
        )
    except (SecretNotConfiguredError, LabelboxError, ValueError) as exc:
        print(f"modelobs labelbox setup: {exc}", file=sys.stderr)
        return 2
    doc = json.dumps(ids.to_dict())
    if args.ids_parameter:
        _aws_client("ssm", args.endpoint_url).put_parameter(Name=args.ids_parameter, Value=doc, Type="String", Overwrite=True)
    print(doc)
    return 0


def _add_labelbox(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("labelbox", help="connect the review loop to a Labelbox workspace")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = actions.add_parser(
        "setup",
        help="create or find the dataset, ontology, project and webhook; store their ids",
        description="Idempotent: a second run finds what the first created. The API key comes from "
        "$LABELBOX_API_KEY or the Secrets Manager secret --api-key-secret-id; the webhook signing secret from "
        "$LABELBOX_WEBHOOK_SECRET or --webhook-secret-id (the same secret the webhook function verifies with). "
        "The ids are printed as JSON and written to the SSM parameter the functions read (the stack's "
        "LabelboxIdsParameter output).",
    )
    s.add_argument("--webhook-url", required=True, help="the stack's WebhookUrl output (must be reachable by Labelbox)")
    s.add_argument("--ids-parameter", help="SSM parameter to write, e.g. /modelobs/<stack>/labelbox")
    s.add_argument("--api-key-secret-id", default=os.environ.get("LABELBOX_API_KEY_SECRET_ID"))
    s.add_argument("--webhook-secret-id", default=os.environ.get("LABELBOX_WEBHOOK_SECRET_ID"))
    s.add_argument("--api-url", default=os.environ.get("LABELBOX_API_URL"), help="Labelbox API base URL (default: the real one)")
    s.add_argument("--dataset", default="modelobs-captures")
    s.add_argument("--project", default="modelobs-review")
    s.add_argument("--replace-webhook", action="store_true", help="re-create the webhook (after rotating its secret)")
    s.add_argument("--endpoint-url", default=None, help="AWS endpoint, e.g. http://127.0.0.1:4566 for the local cloud")
    s.set_defaults(func=_labelbox_setup)


def _redrive_sampler(args: argparse.Namespace) -> int:
    from .redrive import redrive

    report = redrive(_aws_client("sqs", args.endpoint_url), _aws_client("lambda", args.endpoint_url),
                     args.queue_url, args.function, args.max)
    print(json.dumps(report.to_dict()))
    return 0 if report.ok else 1


def _add_redrive(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("redrive", help="send dead-lettered events back to their function")
    targets = p.add_subparsers(dest="target", metavar="TARGET", required=True)
    s = targets.add_parser(
        "sampler",
        help="re-run sampler events from its dead-letter queue",
        description="Invoke the sampler function with each event in its dead-letter queue; a message is "
        "deleted only after the function succeeded. Exit 1 if any failed again (they stay queued).",
    )
    s.add_argument("--queue-url", required=True, help="the stack's SamplerDeadLetterQueueUrl output")
    s.add_argument("--function", required=True, help="the sampler function's name")
    s.add_argument("--max", type=int, default=1000, help="at most this many messages")
    s.add_argument("--endpoint-url", default=None, help="AWS endpoint, e.g. http://127.0.0.1:4566 for the local cloud")
    s.set_defaults(func=_redrive_sampler)


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_predict, _add_eval_coco, _add_replay, _add_labelbox, _add_redrive,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelobs",
        description="Serverless observability for an object-detection model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `modelobs predict ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
