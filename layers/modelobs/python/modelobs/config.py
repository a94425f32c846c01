"""The one place settings are read from the environment.

Lambda functions, the CLI and the tests all build a :class:`Settings` with
:func:`load_settings`, so a variable has one name and one default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .imaging import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

#: Layers unpack to /opt in Lambda; the local no-Docker executor unpacks them
#: elsewhere and says where in LAMBDA_OPT_DIR.
LAMBDA_OPT_DIR = "/opt"
#: The same folder in a source checkout: layers/model/model beside layers/modelobs.
CHECKOUT_MODEL_DIR = Path(__file__).resolve().parents[3] / "model" / "model"


@dataclass(frozen=True)
class Settings:
    model_dir: Path
    threads: int = 1
    max_image_bytes: int = DEFAULT_MAX_BYTES
    max_image_pixels: int = DEFAULT_MAX_PIXELS
    bucket: str | None = None


def find_model_dir(env: Mapping[str, str]) -> Path:
    """``MODELOBS_MODEL_DIR``, else the model layer's ``/opt/model``, else the checkout's model folder."""
    explicit = env.get("MODELOBS_MODEL_DIR")
    if explicit:
        return Path(explicit)
    layer = Path(env.get("LAMBDA_OPT_DIR", LAMBDA_OPT_DIR)) / "model"
    return layer if (layer / "detector.json").is_file() else CHECKOUT_MODEL_DIR


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class LabelboxSettings:
    """Where the review loop's Labelbox lives; the ids are written by `modelobs labelbox setup`."""

    api_url: str | None  # None: the real Labelbox
    api_key_secret_id: str | None
    webhook_secret_id: str | None
    ids_parameter: str | None  # SSM parameter holding SetupIds as JSON


def load_labelbox_settings(env: Mapping[str, str] | None = None) -> LabelboxSettings:
    env = os.environ if env is None else env
    return LabelboxSettings(
        api_url=env.get("LABELBOX_API_URL") or None,
        api_key_secret_id=env.get("LABELBOX_API_KEY_SECRET_ID") or None,
        webhook_secret_id=env.get("LABELBOX_WEBHOOK_SECRET_ID") or None,
        ids_parameter=env.get("LABELBOX_IDS_PARAMETER") or None,
    )


def load_sampling_policy(env: Mapping[str, str] | None = None):
    """The sampling policy from ``SAMPLING_*`` variables (the template's parameters)."""
    from .sampling import SamplingPolicy

    env = os.environ if env is None else env
    d = SamplingPolicy()
    return SamplingPolicy(
        base_rate=_float(env, "SAMPLING_BASE_RATE", d.base_rate),
        uncertain_rate=_float(env, "SAMPLING_UNCERTAIN_RATE", d.uncertain_rate),
        empty_rate=_float(env, "SAMPLING_EMPTY_RATE", d.empty_rate),
        uncertainty_band=_float(env, "SAMPLING_UNCERTAINTY_BAND", d.uncertainty_band),
        daily_budget=_int(env, "SAMPLING_DAILY_BUDGET", d.daily_budget),
    )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        model_dir=find_model_dir(env),
        threads=_int(env, "MODELOBS_THREADS", 1),
        max_image_bytes=_int(env, "MODELOBS_MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES),
        max_image_pixels=_int(env, "MODELOBS_MAX_IMAGE_PIXELS", DEFAULT_MAX_PIXELS),
        bucket=env.get("MODELOBS_BUCKET") or None,
    )
