"""The built layers hold everything the functions import, and nothing pulls from outside them.

Each function runs with only its layers and the runtime's own packages
(boto3) on the path, as on AWS; a module trimmed from a layer, or a
dependency never added to one, must fail here before it fails in Lambda.
"""

from __future__ import annotations

import subprocess

from tests.integration.lsutil import ROOT

BUILD = ROOT / ".aws-sam" / "build"
RUNTIME = ROOT / ".venv-lambda-python3.12" / "bin" / "python"

IMPORT_ALL = r"""
import importlib, pkgutil, sys
sys.path[:0] = sys.argv[1:]
import modelobs
failed = []
for mod in pkgutil.walk_packages(modelobs.__path__, "modelobs."):
    try:
        importlib.import_module(mod.name)
    except Exception as exc:
        failed.append(f"{mod.name}: {type(exc).__name__}: {exc}")
import numpy, PIL, ai_edge_litert, aws_lambda_powertools, labelbox
for name in ("numpy", "PIL", "ai_edge_litert", "aws_lambda_powertools", "labelbox", "modelobs"):
    origin = sys.modules[name].__file__
    if not any(origin.startswith(p) for p in sys.argv[1:]):
        failed.append(f"{name} came from outside the layers: {origin}")
print("\n".join(failed) or "ok")
"""


def test_every_modelobs_module_imports_from_the_layers_alone(stack):
    # The sampler's and the webhook's set: every layer there is (the others use a subset).
    layers = [str(BUILD / name / "python") for name in ("ModelobsLayer", "ModelLayer", "LabelboxLayer")]
    result = subprocess.run([str(RUNTIME), "-I", "-c", IMPORT_ALL, *layers], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok", result.stdout


def test_layers_stay_small():
    sizes = {name: sum(p.stat().st_size for p in (BUILD / name).rglob("*") if p.is_file())
             for name in ("ModelobsLayer", "ModelLayer", "LabelboxLayer")}
    assert sum(sizes.values()) < 250e6, sizes  # Lambda's hard limit for a function's layers, unzipped
    assert sizes["ModelobsLayer"] + sizes["ModelLayer"] < 100e6, sizes  # the inference function's cold start
