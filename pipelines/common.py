"""What every stage entry point shares: the composed params, and clean failures."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from cltv.data import DataError
from cltv.flo import SEED_COMPATIBLE_MODEL
from cltv.model import FitError

ROOT = Path(__file__).resolve().parents[1]


def params() -> dict:
    """The composed configuration (params.yaml, written from conf/ by Hydra)."""
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def model_params(p: dict) -> dict:
    """``CLTVModel`` keyword arguments: ``model.*``, adapted to the data source. A FLO snapshot's
    monetary value averages all orders; ``data.seed_compatible`` replaces the model settings
    by the original procedure's (:data:`cltv.flo.SEED_COMPATIBLE_MODEL`)."""
    kw = dict(p["model"])
    if p["data"]["source"] == "flo":
        if p["data"].get("seed_compatible"):
            print(f"seed-compatible mode: model settings {SEED_COMPATIBLE_MODEL} (model.* ignored)")
            kw.update(SEED_COMPATIBLE_MODEL)
        else:
            kw["monetary_includes_first"] = True
    return kw


def fit_warnings(metrics: dict, model) -> list[str]:
    """The evaluation's and the trained model's warnings, each once, in order."""
    return list(dict.fromkeys(metrics.get("warnings", []) + model.training_.get("warnings", [])))


def run(main: Callable[[dict], None]) -> None:
    """Run a stage; bad data or a failed fit ends it with one clear line and exit code 1
    (outputs are written atomically, so earlier ones stay intact)."""
    try:
        main(params())
    except (DataError, FitError, ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
