"""The one mapping between the model configuration and :class:`cltv.model.CLTVModel`'s
hyperparameters, both ways, and the one way nested settings get dotted names.

The configuration's ``model`` group (conf/model/, composed into params.yaml) holds each sub-model
as a group ``{kind, penalizer}``; ``CLTVModel`` takes flat keyword arguments::

    model.purchases.kind       <-> purchases            model.spend.kind       <-> spend
    model.purchases.penalizer  <-> purchases_penalizer  model.spend.penalizer  <-> spend_penalizer
    model.<name>               <-> <name>               (every other key: clv_months, fitter, ...)

``monetary_includes_first`` is no setting: it follows the data (:func:`monetary_includes_first`).
This module maps plain nested dicts; it knows nothing of Hydra or DVC. :func:`check` checks a
model's hyperparameters before it fits.
"""
from __future__ import annotations

from .errors import ConfigError, FitError

FITTERS = ("fast", "lifetimes")

#: CLTVModel keyword -> its name under ``model.`` in the configuration, where the two differ
CONFIG_NAMES = {"purchases": "purchases.kind", "purchases_penalizer": "purchases.penalizer",
                "spend": "spend.kind", "spend_penalizer": "spend.penalizer"}
#: the grouped sub-models of the configuration
GROUPS = ("purchases", "spend")


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    """Dotted keys of a nested dict: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (as `dvc params diff`
    and MLflow's params show them)."""
    out: dict[str, object] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def monetary_includes_first(source: str, seed_compatible: bool) -> bool:
    """Whether a customer's monetary value averages the first order too, so that the spend model
    counts ``frequency + 1`` values behind it: a FLO snapshot's does (it averages all orders),
    except in the original procedure (``seed_compatible``), whose frequency already counts every
    order; a transaction log's averages the repeat purchases only."""
    return source == "flo" and not seed_compatible


def from_config(model_cfg: dict, *, monetary_includes_first: bool) -> dict:
    """``CLTVModel`` keyword arguments from the configuration's ``model`` group (a nested dict)."""
    kwargs = {k: v for k, v in model_cfg.items() if k not in GROUPS}
    for group in GROUPS:
        kwargs[group] = model_cfg[group]["kind"]
        kwargs[f"{group}_penalizer"] = model_cfg[group]["penalizer"]
    return {**kwargs, "monetary_includes_first": monetary_includes_first}


def config_name(kwarg: str) -> str:
    """The configuration key of a ``CLTVModel`` keyword: ``purchases_penalizer`` ->
    ``model.purchases.penalizer``, ``clv_months`` -> ``model.clv_months``."""
    return f"model.{CONFIG_NAMES.get(kwarg, kwarg)}"


def to_config(hyperparameters: dict) -> dict[str, object]:
    """A model's hyperparameters (``CLTVModel.get_params()``, a model JSON's ``hyperparameters``)
    under their flat configuration keys, as `dvc params diff` names them (``covariates`` per process:
    ``model.covariates.purchases``, ...)."""
    return flatten({config_name(k): v for k, v in hyperparameters.items()})


def check(model, purchases: type, spend: type) -> dict[str, list[str]]:
    """Check ``model``'s (a :class:`cltv.model.CLTVModel`) hyperparameters with its purchase and
    spend model classes; returns its covariates (:func:`cltv.model_effects.check`)."""
    from . import intervals, model_effects

    if int(model.clv_months) != model.clv_months or model.clv_months < 1:
        raise ConfigError(f"clv_months must be a whole number of months >= 1, got {model.clv_months}")
    if model.fitter not in FITTERS:
        raise ConfigError(f"fitter must be one of {FITTERS}, got {model.fitter!r}")
    if model.fitter == "lifetimes" and (missing := [m.title for m in (purchases, spend) if m.lifetimes_class is None]):
        raise FitError(f"model.fitter = 'lifetimes': lifetimes has no {' or '.join(missing)} model; use model.fitter=fast")
    if model.interval_level is not None:
        intervals.order_statistics(model.interval_level)  # checks the level
    return model_effects.check(model.covariates, purchases, spend, model.fitter)
