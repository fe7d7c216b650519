"""``CLTVModel`` settings from the composed config (stages `evaluate` and `train`)."""
from __future__ import annotations


def model_params(p: dict) -> dict:
    """``CLTVModel`` keyword arguments: ``model.*`` as composed (the purchase and spend models
    by kind and penalizer). A FLO snapshot's monetary value averages all orders, so there the
    spend model counts ``frequency + 1`` values behind it, except in the original procedure
    (``data.seed_compatible``), whose frequency already counts every order."""
    m = dict(p["model"])
    purchases, spend = m.pop("purchases"), m.pop("spend")
    return {**m, "purchases": purchases["kind"], "purchases_penalizer": purchases["penalizer"],
            "spend": spend["kind"], "spend_penalizer": spend["penalizer"],
            "monetary_includes_first": p["data"]["source"] == "flo" and not p["data"]["seed_compatible"]}
