"""A local Labelbox for the review loop: the real ``labelbox`` SDK talks to it unmodified.

    python -m labelbox_emulator --port 8490 --state-dir .local/labelbox   (PYTHONPATH=local)
    python local/labelbox_emulator/ctl.py start|stop|status                (pid file under .local/)

In tests: ``EmulatorServer(port=0).serve_in_thread()`` and
``labelbox.Client(api_key=..., endpoint=f"{srv.url}/graphql", rest_endpoint=f"{srv.url}/api/v1")``.
Stdlib only. See ``server`` for the endpoints and the control API.
"""

from .server import EmulatorServer

__all__ = ["EmulatorServer"]
