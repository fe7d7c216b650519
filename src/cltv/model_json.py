"""The model JSON (format ``cltv-model/2``): a fitted :class:`cltv.model.CLTVModel` as plain data
(settings, each model's kind, parameters and covariance, segment cut-offs, training summary and
the data rules), and back; files of the older BG/NBD-only ``cltv-model/1`` still load. No pickle."""
from __future__ import annotations

from .covariates import Design
from .errors import ModelError
from .models import purchase_model, spend_model
from .models.effects import PROCESSES
from .schema import WEEKS_PER_MONTH

FORMAT = "cltv-model/2"


def to_dict(model) -> dict:
    """Everything needed to predict, as plain JSON-able data: the settings, each model's kind
    and parameters, the segment cut-offs, the training summary and, when known, the data rules."""
    return {
        "format": FORMAT,
        "units": {"time": "weeks", "weeks_per_month": WEEKS_PER_MONTH, "money": "the input amounts' currency"},
        "hyperparameters": {
            "purchases": str(model.purchases),
            "spend": str(model.spend),
            "purchases_penalizer": float(model.purchases_penalizer),
            "spend_penalizer": float(model.spend_penalizer),
            "horizons_months": [float(h) for h in model.horizons_months],
            "clv_months": int(model.clv_months),
            "discount_rate": float(model.discount_rate),
            "segment_labels": [str(s) for s in model.segment_labels],
            "horizon_weeks_per_month": float(model.horizon_weeks_per_month),
            "monetary_includes_first": bool(model.monetary_includes_first),
            "fitter": str(model.fitter),
            "interval_level": None if model.interval_level is None else float(model.interval_level),
            **({"covariates": {p: [str(c) for c in model.covariates.get(p, [])] for p in PROCESSES if model.covariates.get(p)}}
               if model.covariates and any(model.covariates.values()) else {}),  # none: the JSON as before
            **({"season": {k: model.season_["season"][k] for k in ("shape", "harmonics")}} if model.season_ else {}),
        },
        "purchases": model.purchases_.to_dict(),
        "spend": model.spend_.to_dict(),
        **({"designs": {p: d.to_dict() for p, d in model.designs_.items()}} if model.designs_ else {}),
        **({"season": model.season_} if model.season_ else {}),  # names, delta, covariance, end day, test
        "segment_cutoffs": model.segment_cutoffs_,
        "training": model.training_,
        **({} if model.data_rules_ is None else {"data_rules": model.data_rules_}),
    }


def from_dict(cls, d: dict):
    """The ``cls`` (:class:`cltv.model.CLTVModel`) of :func:`to_dict`; also reads the BG/NBD-only
    JSON of cltv-model/1. Parameters are checked by name (unknown or missing ones are refused)."""
    if d.get("format") == "cltv-model/1":
        d = _upgrade_v1(d)
    if d.get("format") != FORMAT:
        raise ModelError(f"not a {FORMAT} model (format={d.get('format')!r})")
    h = d["hyperparameters"]
    h = {**h, "covariates": {p: v for p, v in (h.get("covariates") or {}).items() if v} or None}
    model = cls(**{**h, "horizons_months": tuple(h["horizons_months"]), "segment_labels": tuple(h["segment_labels"])})
    for part, kinds in (("purchases", purchase_model), ("spend", spend_model)):
        if d[part]["kind"] != h[part]:
            raise ModelError(f"{part}: the model is {d[part]['kind']!r}, the settings say {h[part]!r}")
        setattr(model, f"{part}_", kinds(d[part]["kind"])(d[part]["params"], d[part].get("covariance"),
                                                          d[part].get("effects")))
    model.designs_ = {p: Design.from_dict(v) for p, v in d.get("designs", {}).items()}
    model.season_ = d.get("season")
    if model.season_:  # the events (data.calendar's) are in the fitted season, not in the settings
        model.season = {**model.season, "events": model.season_["season"]["events"]}
    model.segment_cutoffs_ = [float(c) for c in d["segment_cutoffs"]]
    model.training_ = d.get("training", {})
    model.data_rules_ = d.get("data_rules")
    return model


def _upgrade_v1(d: dict) -> dict:
    """A cltv-model/1 JSON (BG/NBD + Gamma-Gamma only) in the cltv-model/2 layout."""
    h = dict(d["hyperparameters"])
    if "fit_on_distinct" in h:  # written before the fast fitter: same choice under its new name
        h["fitter"] = "fast" if h.pop("fit_on_distinct") else "lifetimes"
    h = {"purchases": "bgnbd", "spend": "gamma_gamma", "purchases_penalizer": h.pop("bgnbd_penalizer"),
         "spend_penalizer": h.pop("gg_penalizer"), **h}
    return {**d, "format": FORMAT, "hyperparameters": h, "purchases": {"kind": "bgnbd", "params": d["bgnbd"]},
            "spend": {"kind": "gamma_gamma", "params": d["gamma_gamma"]}}
