"""Where a function's code, layers and runtime interpreter come from.

* Runtime interpreter: ``python3.12`` maps to ``<root>/.venv-lambda-python3.12/bin/python``,
  a virtualenv holding only what the AWS Lambda image holds (boto3/botocore). ``<root>``
  is ``LAMBDA_NODOCKER_RUNTIME_ROOT``; ``LAMBDA_NODOCKER_RUNTIMES`` (JSON
  ``{"python3.12": "/path/to/python"}``) overrides single runtimes.
* Layers: unpacked in order into one directory, later layers overwriting earlier ones,
  exactly as Lambda extracts them into ``/opt``. Functions see it as ``LAMBDA_OPT_DIR``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from localstack.services.lambda_.invocation.lambda_models import FunctionVersion

LOG = logging.getLogger(__name__)

SUPPORTED_PREFIX = "python3."
_opt_locks: dict[str, threading.Lock] = {}
_opt_locks_guard = threading.Lock()


class UnsupportedRuntime(Exception):
    """The function's runtime has no local interpreter here (raised at CreateFunction)."""


def runtime_root() -> Path:
    return Path(os.environ.get("LAMBDA_NODOCKER_RUNTIME_ROOT") or os.getcwd())


def runtime_python(runtime: str | None) -> Path:
    """The interpreter that plays the Lambda runtime ``runtime``, or UnsupportedRuntime."""
    if not runtime or not runtime.startswith(SUPPORTED_PREFIX):
        raise UnsupportedRuntime(
            f"runtime {runtime!r} is not supported by the nodocker executor (python3.x only)"
        )
    overrides = json.loads(os.environ.get("LAMBDA_NODOCKER_RUNTIMES") or "{}")
    python = Path(overrides.get(runtime) or runtime_root() / f".venv-lambda-{runtime}" / "bin" / "python")
    if not python.exists():
        raise UnsupportedRuntime(
            f"no interpreter for runtime {runtime}: {python} is missing "
            f"(create it with `make lambda-runtime-{runtime}`)"
        )
    return python


def _work_dir() -> Path:
    return Path(tempfile.gettempdir()) / "lambda-nodocker"


def opt_dir(function_version: FunctionVersion) -> Path:
    """Merged-layers directory of one function version (one per code/config revision)."""
    key = f"{function_version.qualified_arn}:{function_version.config.internal_revision}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return _work_dir() / "opt" / f"{function_version.id.function_name}-{digest}"


def _link_or_copy(src: str, dst: str) -> str:
    """Hard-link when possible: a model layer is large and never written by functions."""
    if os.path.lexists(dst):
        os.unlink(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def prepare_opt(function_version: FunctionVersion) -> Path:
    """Unpack the function's layers in order into its opt dir (idempotent, thread-safe)."""
    target = opt_dir(function_version)
    with _opt_locks_guard:
        lock = _opt_locks.setdefault(str(target), threading.Lock())
    with lock:
        done = target / ".complete"
        if done.exists():
            return target
        if target.exists():
            shutil.rmtree(target)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for layer in function_version.config.layers or []:
            if layer.code is None:
                continue
            layer.code.prepare_for_execution()
            src = layer.code.get_unzipped_code_location()
            LOG.debug("nodocker: layer %s -> %s", layer.layer_version_arn, staging)
            shutil.copytree(src, staging, copy_function=_link_or_copy, dirs_exist_ok=True, symlinks=True)
        os.replace(staging, target)
        done.touch()
        return target


def cleanup_opt(function_version: FunctionVersion) -> None:
    shutil.rmtree(opt_dir(function_version), ignore_errors=True)


def env_tmp_dir(env_id: str) -> Path:
    """A private TMPDIR per environment, as each Lambda sandbox has its own /tmp."""
    path = _work_dir() / "env" / env_id / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def remove_env_dir(env_id: str) -> None:
    shutil.rmtree(_work_dir() / "env" / env_id, ignore_errors=True)


def env_log_file(env_id: str) -> Path:
    return _work_dir() / "env" / env_id / "init.log"
