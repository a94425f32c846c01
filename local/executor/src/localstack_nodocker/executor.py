"""The RuntimeExecutor LocalStack drives: one instance per execution environment.

LocalStack's side of the protocol is unchanged: it POSTs each invocation to the
environment's ``/invoke`` and waits for the environment to call back on the executor
endpoint (``/_localstack_lambda/<id>/status/<id>/ready``, ``.../invocations/<req>/logs``,
``.../response``, ``.../error``). Our environment (``envinit.py``) binds a free port and
reports it in the body of its *ready* call, so no port is ever guessed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from http import HTTPStatus
from pathlib import Path

from localstack import config
from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from werkzeug import Request

from localstack_nodocker import procs, runtimes

LOG = logging.getLogger(__name__)

HOST = "127.0.0.1"
PACKAGE_DIR = Path(__file__).resolve().parent
ENVINIT = PACKAGE_DIR / "envinit.py"
BOOTSTRAP = PACKAGE_DIR / "bootstrap.py"

def default_memory_headroom_mb() -> int:
    """Address space allowed on top of MemorySize (the runtime's RLIMIT_AS is the sum).

    RLIMIT_AS counts virtual, not resident, memory: glibc reserves up to 64 MB per malloc
    arena (8 arenas per core), each thread stack is 8 MB and numpy/TFLite map large
    libraries, so a 128 MB function that is fine on AWS needs ~1 GB of address space
    here. Hence 1 GB + 8 x 64 MB per CPU. ``LAMBDA_NODOCKER_MEMORY_HEADROOM_MB`` overrides
    it; 0 disables the cap. Going over raises MemoryError in the handler (AWS instead
    kills the sandbox, Runtime.OutOfMemory, when *resident* memory reaches MemorySize).
    """
    return 1024 + 8 * 64 * (os.cpu_count() or 1)


class PortReportingEndpoint(ExecutorEndpoint):
    """ExecutorEndpoint whose environment tells its port in the *ready* call's JSON body."""

    def status_ready(self, request: Request, executor_id: str) -> Response:
        try:
            self.container_port = int(json.loads(request.data or b"{}")["port"])
        except (ValueError, KeyError, TypeError):
            LOG.error("nodocker: ready call without a port: %r", request.data)
            return Response(status=HTTPStatus.BAD_REQUEST)
        return super().status_ready(request, executor_id)


class NoDockerRuntimeExecutor(RuntimeExecutor):
    """Runs an execution environment as a local process tree instead of a container."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = PortReportingEndpoint(self.id, container_address=HOST, container_port=None)
        self.process: subprocess.Popen | None = None
        self._stopped = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        python = runtimes.runtime_python(self.function_version.config.runtime)
        code = self.function_version.config.code
        code.prepare_for_execution()
        task_root = code.get_unzipped_code_location()
        opt = runtimes.prepare_opt(self.function_version)
        env = self._environment(env_vars, python=python, task_root=task_root, opt=opt)
        log_path = runtimes.env_log_file(self.id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            # The init is stdlib-only and run by path in isolated mode: nothing from
            # LocalStack's virtualenv is importable in it or in the runtime it starts.
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-u", str(ENVINIT)],
                cwd=task_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        LOG.debug("nodocker: environment %s started as pid %s", self.id, self.process.pid)
        threading.Thread(target=self._watch, name=f"nodocker-watch-{self.id}", daemon=True).start()
        self.executor_endpoint.wait_for_startup()

    def _watch(self) -> None:
        """Turn an early exit of the environment into a startup error instead of letting
        LocalStack wait for its startup timeout."""
        assert self.process is not None
        code = self.process.wait()
        future = self.executor_endpoint.startup_future
        if future is not None and not future.done() and not self._stopped.is_set():
            payload = json.dumps(
                {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"Runtime exited with error: exit status {code} before it was ready",
                }
            ).encode()
            LOG.warning("nodocker: environment %s exited (%s) during startup:\n%s", self.id, code, self.get_logs())
            future.set_exception(StatusErrorException("Environment startup failed", payload=payload))

    def stop(self) -> None:
        self._stopped.set()
        if self.process is not None:
            procs.kill_tree(self.process.pid, grace_s=2.0)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                LOG.warning("nodocker: environment %s (pid %s) did not exit", self.id, self.process.pid)
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:  # the endpoint may never have been registered
            LOG.debug("nodocker: endpoint shutdown of %s: %s", self.id, e)
        runtimes.remove_env_dir(self.id)

    # ------------------------------------------------------------------ environment

    def _environment(self, env_vars: dict[str, str], *, python: Path, task_root: Path, opt: Path) -> dict[str, str]:
        """The Lambda environment: LocalStack's variables with the container paths
        replaced by local ones, plus what the init needs (``NODOCKER_*``, never passed on
        to the function). Nothing is inherited from LocalStack's own environment."""
        env = {k: str(v) for k, v in env_vars.items() if v is not None}
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(task_root),
                "LAMBDA_RUNTIME_DIR": str(PACKAGE_DIR),
                "LAMBDA_OPT_DIR": str(opt),
                "TMPDIR": str(runtimes.env_tmp_dir(self.id)),
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "en_US.UTF-8",
                "LD_LIBRARY_PATH": f"{task_root}/lib:{opt}/lib",
                "NODOCKER_RUNTIME_PYTHON": str(python),
                "NODOCKER_RUNTIME_NAME": str(self.function_version.config.runtime),
                "NODOCKER_BOOTSTRAP": str(BOOTSTRAP),
                "NODOCKER_MEMORY_LIMIT_MB": str(self._memory_limit_mb()),
                "NODOCKER_PARENT_PID": str(os.getpid()),
            }
        )
        # The function's own Environment wins, as on AWS (LocalStack applied it last too).
        env.update({k: str(v) for k, v in (self.function_version.config.environment or {}).items()})
        return env

    def _memory_limit_mb(self) -> int:
        headroom = int(os.environ.get("LAMBDA_NODOCKER_MEMORY_HEADROOM_MB") or default_memory_headroom_mb())
        if headroom <= 0:
            return 0
        return int(self.function_version.config.memory_size) + headroom

    # ------------------------------------------------------------------ protocol

    def get_address(self) -> str:
        return HOST

    def get_endpoint_from_executor(self) -> str:
        return HOST

    def get_runtime_endpoint(self) -> str:
        return f"http://{HOST}:{config.GATEWAY_LISTEN[0].port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        if self.executor_endpoint.container_port is None:
            raise LambdaRuntimeException(f"environment {self.id} has not reported its port")
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            return runtimes.env_log_file(self.id).read_text(errors="replace")
        except OSError:
            return "(no environment log)"

    # ------------------------------------------------------------------ versions

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        """Fail CreateFunction early (state Failed, with the reason) if the runtime has no
        interpreter here; unzip code and merge layers so the first start is quick."""
        runtimes.runtime_python(function_version.config.runtime)
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()
            runtimes.prepare_opt(function_version)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        runtimes.cleanup_opt(function_version)

    @classmethod
    def validate_environment(cls) -> bool:
        root = runtimes.runtime_root()
        found = sorted(p.name for p in root.glob(".venv-lambda-*"))
        if not found:
            LOG.warning("nodocker: no .venv-lambda-<runtime> under %s; Lambda functions will fail", root)
        else:
            LOG.info("nodocker executor: runtimes %s under %s", ", ".join(found), root)
        return True
