"""Fixtures shared by every test folder."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def load_function(monkeypatch) -> Callable[[str], ModuleType]:
    """Import ``functions/<name>/app.py`` fresh, as Lambda would in a new execution environment.

    Each call re-runs the module's init code, so environment variables set
    with ``monkeypatch`` before it (and a moto mock) are what it sees.
    """

    def load(name: str) -> ModuleType:
        path = ROOT / "functions" / name / "app.py"
        module_name = f"lambda_{name}_app"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, module_name, module)
        spec.loader.exec_module(module)
        return module

    return load
