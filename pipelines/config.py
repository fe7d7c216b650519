"""The configuration's schema: every key of conf/ (and so of params.yaml) with its type and valid
range, checked by every stage before it does any work.

DVC composes conf/ with Hydra inside its own process, where a structured-config schema of ours
would not be registered, so the schema is checked here instead, on the composed params.yaml.
A broken rule ends the stage with one line that names the key, the value and what is expected.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from cltv.errors import ConfigError
from cltv.hyperparameters import flatten
from cltv.hyperparameters import FITTERS  # model.fitter choices
from cltv.models import PURCHASE_MODELS, SPEND_MODELS  # model/purchases and model/spend choices: their keys
from cltv.origins import LOWER_IS_BETTER, origins
from pipelines.keys import (Key, acquired_after, choice, columns, date_format, day, days, flag, horizons, labels, memory,
                            number, optional_number, optional_repo_path, optional_text, repo_path, text, texts, timezone,
                            weeks)

#: The preset the original FLO procedure (data.seed_compatible) needs
FLO_PRESET = Path(__file__).resolve().parents[1] / "conf/model/flo_original.yaml"
#: registry.champion_metric choices: metrics/evaluation.json keys (their mean over the backtest's
#: origins decides), and whether lower is better
CHAMPION_METRICS = LOWER_IS_BETTER


SCHEMA: dict[str, Key] = {
    "data.source": choice("cdnow", "transactions", "flo"),
    "data.cdnow_file": choice("master", "sample"),
    "data.path": repo_path(),
    "data.customer_col": text(),
    "data.date_col": text(),
    "data.amount_col": optional_text(),
    "data.quantity_col": optional_text(),
    "data.price_col": optional_text(),
    "data.invoice_col": optional_text(),
    "data.product_col": optional_text(),
    "data.acquired_after": acquired_after(),
    "data.cancellations.invoice_prefix": optional_text(),
    "data.cancellations.negative": flag(),
    "data.cancellations.treatment": choice("drop", "net"),
    "data.missing_customer": choice("error", "drop"),
    "data.nonpositive_amounts": choice("keep", "drop"),
    "data.filter.column": optional_text(),
    "data.filter.values": texts(),
    "data.timezone": timezone(),
    "data.sheets": texts(optional=True),
    "data.date_format": date_format(),
    "data.first_purchase": columns(),
    "data.calibration_end": day(optional=True),
    "data.observation_end": day(optional=True),
    "data.seed_compatible": flag(),
    "data.capping.enabled": flag(),
    "data.capping.low_quantile": number(0, 0.5, hi_open=True),
    "data.capping.high_quantile": number(0.5, 1, lo_open=True),
    "data.capping.multiplier": number(0, 100),
    "data.analysis_date": day(optional=True),
    "data.analysis_offset_days": number(0, 3650, integer=True),
    "data.calendar": optional_repo_path(),
    "data.customers.path": optional_repo_path(),
    "data.customers.id_col": text(),
    "model.purchases.kind": choice(*PURCHASE_MODELS),
    "model.purchases.penalizer": number(0, 100),
    "model.spend.kind": choice(*SPEND_MODELS),
    "model.spend.penalizer": number(0, 100),
    "model.horizons_months": horizons(),
    "model.horizon_weeks_per_month": number(4, 4.5),
    "model.clv_months": number(1, 120, integer=True),
    "model.discount_rate": number(0, 1, hi_open=True),
    "model.segment_labels": labels(),
    "model.fitter": choice(*FITTERS),
    "model.interval_level": optional_number(0, 1),
    "model.covariates.purchases": columns(),
    "model.covariates.dropout": columns(),
    "model.covariates.spend": columns(),
    "model.season.shape": choice("none", "months", "fourier"),
    "model.season.harmonics": number(1, 6, integer=True),
    "evaluate.origins": days(),
    "evaluate.count": number(1, 52, integer=True),
    "evaluate.spacing_weeks": number(1, 520, integer=True),
    "evaluate.holdout_weeks": weeks(),
    "engine.kind": choice("pandas", "spark"),
    "engine.master": text(r"local(\[(\*|[1-9]\d{0,3})\])?|(spark|k8s|mesos)://\S+|yarn",
                          "a Spark master URL: local[*], local[N] with N from 1 to 9999, spark://host:port, k8s://..., "
                          "yarn", bad=("local[0]", "local[-1]")),
    "engine.shuffle_partitions": number(1, 100_000, integer=True),
    "engine.driver_memory": memory(),
    "registry.experiment": text(),
    "registry.model_name": text(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}",
                                "a model name of letters, digits, '_', '.', '-' (at most 100 characters)"),
    "registry.champion_metric": choice(*CHAMPION_METRICS),
    "flo_sample.customers": number(10, 10_000_000, integer=True),
    "flo_sample.seed": number(0, 2**32 - 1, integer=True),
    "flo_sample.selection": flag(),
    "flo_sample.channel_effects": flag(),
}


def validate(params: dict) -> None:
    """Raise :class:`ConfigError` on the first key that is unknown, missing or out of range,
    then on the first broken rule between keys."""
    flat = flatten(params)
    for key in flat:
        if key not in SCHEMA:
            raise ConfigError(f"{key}: unknown key (a typo? the keys are listed in conf/ and docs/configuration.md)")
    for key, spec in SCHEMA.items():
        if key not in flat:
            raise ConfigError(f"{key}: missing from params.yaml; recompose it: python -m pipelines.compose_params")
        expected = spec.check(flat[key])
        if expected:
            raise ConfigError(f"{key} = {flat[key]!r}: expected {expected}")
    _cross_checks(flat)


def _cross_checks(p: dict) -> None:
    covariates = [k for k in ("model.covariates.purchases", "model.covariates.dropout", "model.covariates.spend") if p[k]]
    if covariates and p["model.fitter"] != "fast":
        raise ConfigError(f"{covariates[0]} = {p[covariates[0]]!r}: covariates need model.fitter=fast (lifetimes fits "
                          "none)")
    if p["data.customers.path"] is not None and not p["data.customers.path"].startswith("data/attributes/"):
        raise ConfigError(f"data.customers.path = {p['data.customers.path']!r}: expected a file in data/attributes/ (the "
                          "folder stage prepare depends on): move it there and `dvc add` it")
    if p["model.season.shape"] != "none" or p["data.calendar"] is not None:
        _season_checks(p, covariates)
    if p["data.first_purchase"] and p["data.source"] == "flo":
        raise ConfigError(f"data.first_purchase = {p['data.first_purchase']!r}: a FLO snapshot has no purchase log; "
                          "use its own columns (order_channel, ...) in model.covariates")
    if p["model.fitter"] == "lifetimes":
        models = (PURCHASE_MODELS[p["model.purchases.kind"]], SPEND_MODELS[p["model.spend.kind"]])
        if missing := [m.title for m in models if m.lifetimes_class is None]:
            raise ConfigError(f"model.fitter = 'lifetimes': lifetimes has no {' or '.join(missing)} model; "
                              "use model.fitter=fast")
    if p["data.source"] == "flo" and p["data.seed_compatible"]:
        preset = {k: v for k, v in flatten({"model": yaml.safe_load(FLO_PRESET.read_text())}).items()
                  if not k.startswith("model.defaults") and k != "model.interval_level"}
        preset.update({"model.purchases.kind": "bgnbd", "model.spend.kind": "gamma_gamma"})
        differ = [k for k, v in preset.items() if p[k] != v and not (isinstance(v, list) and list(p[k]) == v)]
        if differ:
            raise ConfigError(f"data.seed_compatible = True: the original procedure needs the model preset, but "
                              f"{', '.join(f'{k} = {p[k]!r}' for k in differ)} differ from it; add -S model=flo_original "
                              "(conf/model/flo_original.yaml)")
    if p["engine.kind"] == "spark":
        _spark_checks(p)
    if p["data.source"] != "flo":
        for key in ("data.calibration_end", "data.observation_end"):
            if p[key] is None:
                raise ConfigError(f"{key}: a transaction log needs a date YYYY-MM-DD (null is only for data=flo)")
        if p["data.amount_col"] is None and not (p["data.quantity_col"] and p["data.price_col"]):
            raise ConfigError("data.amount_col = None: expected a column, or data.quantity_col and data.price_col "
                              "(amount = quantity x unit price)")
        if p["data.amount_col"] is not None and (p["data.quantity_col"] or p["data.price_col"]):
            raise ConfigError(f"data.amount_col = {p['data.amount_col']!r} while data.quantity_col / data.price_col are set: "
                              "for quantity x unit price set data.amount_col=null, else both of those to null")
        if p["data.cancellations.invoice_prefix"] and not p["data.invoice_col"]:
            raise ConfigError(f"data.cancellations.invoice_prefix = {p['data.cancellations.invoice_prefix']!r}: "
                              "expected data.invoice_col to name the invoice column")
        if p["data.filter.column"] and not p["data.filter.values"]:
            raise ConfigError(f"data.filter.values = []: expected the values of {p['data.filter.column']!r} to keep")
        for key, before in (("data.calibration_end", "data.observation_end"), ("data.acquired_after", "data.calibration_end")):
            if isinstance(p[key], str) and p[key] >= p[before]:  # acquired_after: else no customer to fit
                raise ConfigError(f"{key} = {p[key]!r}: expected a day before {before} ({p[before]})")
        plan = origins(p["data.calibration_end"], p["data.observation_end"], p["evaluate.origins"],
                       p["evaluate.count"], p["evaluate.spacing_weeks"], p["evaluate.holdout_weeks"])
        if isinstance(p["data.acquired_after"], str) and p["data.acquired_after"] >= str(plan[0][0].date()):
            raise ConfigError(f"data.acquired_after = {p['data.acquired_after']!r}: expected a day before the first "
                              f"origin ({plan[0][0].date()}, evaluate.origins)")
    elif p["data.acquired_after"] is not None:
        raise ConfigError("data.acquired_after: a rule for transaction logs; a snapshot has no log start, set it to null")
    elif p["evaluate.origins"] or p["evaluate.count"] > 1 or p["evaluate.holdout_weeks"] is not None:
        raise ConfigError("evaluate.origins / count / holdout_weeks: a snapshot has no holdout to backtest on; keep "
                          "evaluate's defaults (no origins, count 1, holdout_weeks null) with data=flo")


def _season_checks(p: dict, covariates: list[str]) -> None:
    """A season needs purchase days (a transaction log) and the fast fitter, without covariates."""
    shape = (f"model.season.shape = {p['model.season.shape']!r}" if p["data.calendar"] is None
             else f"data.calendar = {p['data.calendar']!r}")
    if p["data.calendar"] is not None and not p["data.calendar"].startswith("data/attributes/"):
        raise ConfigError(f"{shape}: expected a file in data/attributes/ (the folder the stages depend on): move it "
                          "there and `dvc add` it")
    if p["data.source"] == "flo":
        raise ConfigError(f"{shape}: a FLO snapshot has no purchase days; use a transaction log")
    if covariates:
        raise ConfigError(f"{shape}: a season with covariates is not supported yet; set {covariates[0]}=[] or the "
                          "shape to none")
    if p["model.fitter"] != "fast":
        raise ConfigError(f"{shape}: the season needs model.fitter=fast")


def _spark_checks(p: dict) -> None:  # engine=spark reads transaction logs (CSV/Parquet) by the same rules
    if p["data.source"] == "flo":
        raise ConfigError("engine.kind = 'spark': a FLO snapshot is one row per customer and fits in memory; "
                          "use -S engine=pandas with data=flo")
    if p["data.sheets"]:
        raise ConfigError(f"data.sheets = {p['data.sheets']!r}: the Spark reader reads CSV and Parquet, not Excel "
                          "workbooks; use -S engine=pandas")
