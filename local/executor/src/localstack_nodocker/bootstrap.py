"""The Lambda Python runtime, without the container: what ``awslambdaric`` does on AWS.

Run by ``envinit.py`` as ``<runtime python> -I -S -u bootstrap.py``, stdlib only, so that
the only importable code is what the function would see on AWS:

    LAMBDA_TASK_ROOT, <opt>/python/lib/pythonX.Y/site-packages, <opt>/python,
    the runtime virtualenv's site-packages (boto3/botocore, like the Lambda image),
    then the standard library.

``<opt>`` is the function's layers unpacked in order (``LAMBDA_OPT_DIR``; ``/opt`` on AWS).
Error payloads, error types and log lines follow the AWS Python runtime, so a dependency
missing from a layer fails with ``Runtime.ImportModuleError`` here as it does there.

Control protocol with the init (JSON lines on two inherited pipes, ``NODOCKER_CTL=in,out``):
runtime -> init ``{"type": "ready", "fault": null | error}`` once, then per invocation
init -> runtime ``{"request_id", "payload", "deadline_ms", ...}`` and runtime -> init
``{"type": "result", "ok": bool, "body" | "error", "max_rss_mb"}``. After each result the
runtime writes an end marker on stdout so the init knows it has all of that output.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import os
import resource
import site
import sys
import sysconfig
import threading
import time
import traceback

MARKER_PREFIX = b"\x1e__nodocker_end__:"


# --------------------------------------------------------------------------- setup


def runtime_site_packages() -> str:
    """site-packages of the runtime interpreter: its virtualenv's when it is one.

    With -S, site.py never runs, so sys.prefix still names the base interpreter; the
    virtualenv is found from the executable's pyvenv.cfg instead.
    """
    venv = os.path.dirname(os.path.dirname(sys.executable))
    if os.path.exists(os.path.join(venv, "pyvenv.cfg")):
        return sysconfig.get_paths(vars={"base": venv, "platbase": venv})["purelib"]
    return sysconfig.get_paths()["purelib"]


def isolate_sys_path() -> None:
    """Rebuild sys.path in the order the AWS Python runtime uses."""
    stdlib = list(sys.path)  # with -I -S: only the interpreter's stdlib entries
    runtime_site = runtime_site_packages()  # needs the stdlib path: resolve first
    task_root = os.environ["LAMBDA_TASK_ROOT"]
    opt = os.environ.get("LAMBDA_OPT_DIR", "/opt")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    sys.path[:] = [task_root, f"{opt}/python/lib/{version}/site-packages", f"{opt}/python"]
    # The runtime's own packages (boto3), with their .pth files, as the image's site-packages.
    site.addsitedir(runtime_site)
    sys.path.extend(p for p in stdlib if p not in sys.path)


def limit_memory() -> None:
    """Cap the address space (the closest the OS offers to Lambda's memory limit)."""
    limit_mb = int(os.environ.pop("NODOCKER_MEMORY_LIMIT_MB", "0") or 0)
    if limit_mb > 0:
        limit = limit_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError) as e:
            print(f"nodocker: could not set RLIMIT_AS={limit_mb} MB: {e}", file=sys.stderr)


def watch_parent() -> None:
    """Die with the init: if it is killed, nothing of this sandbox may survive it."""
    parent = os.getppid()

    def loop() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os.killpg(0, 9)

    threading.Thread(target=loop, name="nodocker-parent-watch", daemon=True).start()


class LambdaLoggerHandler(logging.Handler):
    """The root handler the AWS runtime installs: ``[LEVEL]\\tts\\trequest-id\\tmessage``,
    one CloudWatch event per record (newlines become ``\\r`` as on AWS)."""

    def __init__(self) -> None:
        super().__init__()
        formatter = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record).replace("\n", "\r")
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


class RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = RequestIdFilter.request_id
        return True


def setup_logging() -> None:
    root = logging.getLogger()
    handler = LambdaLoggerHandler()
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


# --------------------------------------------------------------------------- errors


class Fault(Exception):
    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type, self.message, self.trace = error_type, message, trace or []


def make_error(message: str, error_type: str, stack: list[str], request_id: str = "") -> dict:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": stack}


def exception_error(exc: BaseException, request_id: str) -> dict:
    """errorMessage/errorType/stackTrace of a handler exception, without our own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    frames = [f for f in traceback.extract_tb(tb) if not f.filename.startswith("<frozen importlib")]
    stack = traceback.format_list(frames)
    return make_error(str(exc), type(exc).__name__, stack, request_id)


def log_error(error: dict) -> None:
    """``[ERROR] Type: message`` + traceback as one log event, like the AWS runtime."""
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in error["stackTrace"])
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


def load_handler(spec: str):
    """Import ``module.function`` from _HANDLER, with AWS's fault types and messages."""
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{spec}': not enough values to unpack (expected 2, got 1)")
    modname = modname.replace("/", ".")
    if modname.split(".")[0] in sys.builtin_module_names:
        raise Fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {modname} as a handler module",
        )
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{modname}': {e}")
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{modname}': {e}", trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{fname}' missing on module '{modname}'")


# --------------------------------------------------------------------------- context


class LambdaContext:
    """The handler's ``context`` argument, with the attributes of the AWS runtime's."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        env = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")  # a str on AWS too
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn}])"
        )


def _json_default(obj):
    """The AWS runtime serialises Decimal (e.g. from DynamoDB) as a number."""
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def max_rss_mb() -> int:
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + 1023) // 1024


# --------------------------------------------------------------------------- loop


def invoke(handler, msg: dict) -> dict:
    request_id = msg["request_id"]
    RequestIdFilter.request_id = request_id
    if msg.get("trace_id"):
        os.environ["_X_AMZN_TRACE_ID"] = msg["trace_id"]
    try:
        event = json.loads(msg.get("payload") or "{}")
    except ValueError as e:
        error = make_error(f"Unable to unmarshal input: {e}", "Runtime.UnmarshalError", [], request_id)
        log_error(error)
        return {"ok": False, "error": error}
    context = LambdaContext(request_id, msg.get("invoked_function_arn", ""), int(msg["deadline_ms"]))
    try:
        result = handler(event, context)
    except Exception as exc:
        error = exception_error(exc, request_id)
        log_error(error)
        return {"ok": False, "error": error}
    try:
        body = json.dumps(result, default=_json_default)
    except (TypeError, ValueError) as e:
        error = make_error(f"Unable to marshal response: {e}", "Runtime.MarshalError", [], request_id)
        log_error(error)
        return {"ok": False, "error": error}
    return {"ok": True, "body": body}


def main() -> None:
    ctl_in_fd, ctl_out_fd = (int(x) for x in os.environ.pop("NODOCKER_CTL").split(","))
    ctl_in = os.fdopen(ctl_in_fd, "r")
    ctl_out = os.fdopen(ctl_out_fd, "w", buffering=1)
    limit_memory()
    watch_parent()
    isolate_sys_path()
    setup_logging()

    def send(message: dict) -> None:
        ctl_out.write(json.dumps(message) + "\n")

    handler = None
    fault = None
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as f:
        fault = make_error(f.message, f.error_type, f.trace)
    except Exception as exc:  # module-level code raised
        fault = exception_error(exc, "")
    if fault:
        log_error(fault)
    sys.stdout.flush()
    send({"type": "ready", "fault": fault})

    for line in ctl_in:
        msg = json.loads(line)
        result = invoke(handler, msg) if handler else {"ok": False, "error": fault}
        result.update(type="result", max_rss_mb=max_rss_mb())
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(1, MARKER_PREFIX + msg["request_id"].encode() + b"\n")
        send(result)


if __name__ == "__main__":
    main()
