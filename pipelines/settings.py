"""``CLTVModel`` settings from the composed config (stages `evaluate` and `train`)."""
from __future__ import annotations

from cltv.flo import SEED_COMPATIBLE_MODEL


def model_params(p: dict) -> dict:
    """``CLTVModel`` keyword arguments: ``model.*``, adapted to the data source. A FLO snapshot's
    monetary value averages all orders; ``data.seed_compatible`` replaces the model settings
    by the original procedure's (:data:`cltv.flo.SEED_COMPATIBLE_MODEL`)."""
    kw = dict(p["model"])
    if p["data"]["source"] == "flo":
        if p["data"]["seed_compatible"]:
            print(f"seed-compatible mode: model settings {SEED_COMPATIBLE_MODEL} (model.* ignored)")
            kw.update(SEED_COMPATIBLE_MODEL)
        else:
            kw["monetary_includes_first"] = True
    return kw
