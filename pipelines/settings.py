"""``CLTVModel`` settings from the composed config, and the customer attributes its covariates
read (stages `evaluate`, `train` and `segment`)."""
from __future__ import annotations

import pandas as pd

from cltv import covariates, hyperparameters, season
from cltv.io import read_parquet
from pipelines.common import ROOT


def model_params(p: dict) -> dict:
    """``CLTVModel`` keyword arguments: ``model.*`` as composed, mapped by
    :func:`cltv.hyperparameters.from_config`; whether the monetary value includes the first order
    follows the data (:func:`cltv.hyperparameters.monetary_includes_first`); the season's events
    come from ``data.calendar``."""
    d = p["data"]
    kwargs = hyperparameters.from_config(
        p["model"], monetary_includes_first=hyperparameters.monetary_includes_first(d["source"], d["seed_compatible"]))
    if d.get("calendar"):  # calendar covariates: the season's events, from their table
        kwargs["season"] = {**kwargs["season"], "events": season.read_calendar(ROOT / d["calendar"])}
    return kwargs


def seasonal(p: dict) -> bool:
    """Whether the model has a season: a yearly shape or calendar events (``data.calendar``)."""
    return p["model"]["season"]["shape"] != "none" or p["data"]["calendar"] is not None


def with_attributes(p: dict, table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (one row per customer) with the attribute columns the covariates name, from
    data/customers.parquet (written by `prepare`); unchanged without covariates. Training,
    evaluation and scoring all join them here."""
    names = covariates.names(p["model"]["covariates"])
    if not names:
        return table
    return covariates.join(table, read_parquet(ROOT / "data/customers.parquet"), names, "data/customers.parquet")
