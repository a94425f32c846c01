"""TensorFlow tests run only in .venv-train (`make test-training`); elsewhere this folder is not collected.

The main .venv deliberately has no TensorFlow (it must never reach the
runtime layers), so `make test` skips these cleanly instead of failing
on an import.
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("tensorflow") else ["test_*.py"]
