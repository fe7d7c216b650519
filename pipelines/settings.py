"""``CLTVModel`` settings from the composed config (stages `evaluate` and `train`)."""
from __future__ import annotations

from cltv import hyperparameters


def model_params(p: dict) -> dict:
    """``CLTVModel`` keyword arguments: ``model.*`` as composed, mapped by
    :func:`cltv.hyperparameters.from_config`; whether the monetary value includes the first order
    follows the data (:func:`cltv.hyperparameters.monetary_includes_first`)."""
    d = p["data"]
    return hyperparameters.from_config(
        p["model"], monetary_includes_first=hyperparameters.monetary_includes_first(d["source"], d["seed_compatible"]))
