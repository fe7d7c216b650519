"""The configuration's schema: every key of conf/ (and so of params.yaml) with its type and valid
range, checked by every stage before it does any work.

DVC composes conf/ with Hydra inside its own process, where a structured-config schema of ours
would not be registered, so the schema is checked here instead, on the composed params.yaml.
A broken rule ends the stage with one line that names the key, the value and what is expected.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from cltv.errors import ConfigError
from cltv.hyperparameters import flatten
from cltv.model import FITTERS  # model.fitter choices
from cltv.models import PURCHASE_MODELS, SPEND_MODELS  # model/purchases and model/spend choices: their keys

#: The preset the original FLO procedure (data.seed_compatible) needs
FLO_PRESET = Path(__file__).resolve().parents[1] / "conf/model/flo_original.yaml"
#: registry.champion_metric choices: metrics/evaluation.json keys, and whether lower is better
CHAMPION_METRICS = {"mae": True, "rmse": True, "pearson": False, "spearman": False}


@dataclass(frozen=True)
class Key:
    """One key: ``check(value)`` returns None when the value is valid, else what is expected."""
    check: Callable[[object], str | None]
    bad: tuple  # values the schema must refuse (the bad-config test tries each)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def number(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> Key:
    lo_txt = f"{'>' if lo_open else '>='} {lo:g}"
    hi_txt = f"{'<' if hi_open else '<='} {hi:g}"
    kind = "a whole number" if integer else "a number"

    def check(v):
        ok = (isinstance(v, int) and not isinstance(v, bool)) if integer else _is_number(v)
        ok = ok and (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
        return None if ok else f"{kind} {lo_txt} and {hi_txt}"

    below = lo - 1 if not lo_open else lo
    return Key(check, (below, "abc", True, None, [lo]) + ((lo + 0.5,) if integer else ()))


def optional_number(lo: float, hi: float) -> Key:
    """A number strictly between ``lo`` and ``hi``, or null."""
    inner = number(lo, hi, lo_open=True, hi_open=True)
    return Key(lambda v: None if v is None or inner.check(v) is None else f"{inner.check(v)}, or null",
               (lo, hi, "abc", True))


def choice(*options) -> Key:
    return Key(lambda v: None if v in options and not isinstance(v, bool) else f"one of {list(options)}",
               ("no-such-choice", 1, None))


def flag() -> Key:
    return Key(lambda v: None if isinstance(v, bool) else "true or false", ("yes", 1, None))


def text(pattern: str = r".+", what: str = "a non-empty text", bad: tuple = ()) -> Key:
    return Key(lambda v: None if isinstance(v, str) and re.fullmatch(pattern, v) else what, ("", 1, None, ["a"], *bad))


def memory(lo_mb: int = 512, hi_mb: int = 1 << 20) -> Key:
    """A JVM memory size such as 2g or 512m, from ``lo_mb`` megabytes (Spark's driver needs about
    450) to ``hi_mb``."""
    mb = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1 << 20}

    def check(v):
        size = re.fullmatch(r"(\d{1,9})([kmgt])", v) if isinstance(v, str) else None
        ok = size is not None and lo_mb <= int(size[1]) * mb[size[2]] <= hi_mb
        return None if ok else f"a memory size such as 2g or 512m, from {lo_mb}m to {hi_mb >> 20}t"
    return Key(check, ("0g", "100m", "2x", "5000t", 2, None))


def day(optional: bool = False) -> Key:
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            try:
                dt.date.fromisoformat(v)
                return None
            except ValueError:
                pass
        return "a date YYYY-MM-DD" + (" or null" if optional else "")
    return Key(check, ("1997-02-30", "30/09/1997", 19970930) + (() if optional else (None,)))


def acquired_after() -> Key:  # null, a day, or weeks after the log's first day
    return Key(lambda v: None if day(optional=True).check(v) is None or number(0, 5200, integer=True).check(v) is None
               else "null, a date YYYY-MM-DD, or a whole number of weeks from 0 to 5200", ("1997-02-30", -1, 5201, 2.5, "12"))


def repo_path() -> Key:
    """A file inside the repository: relative, no '..' (DVC records the path in dvc.lock)."""
    def check(v):
        if not isinstance(v, str) or not v or "\\" in v:
            return "a relative path inside the repository, with '/' separators"
        p = PurePosixPath(v)
        if p.is_absolute() or ".." in p.parts:
            return ("a path inside the repository (this one is outside it): copy or `dvc import` the "
                    "file into the repository, `dvc add` it, and point data.path at it")
        return None
    return Key(check, ("../x.csv", "/tmp/x.csv", "", None))


def labels() -> Key:
    def check(v):
        if (isinstance(v, list) and 1 <= len(v) <= 26 and all(isinstance(s, str) and s.strip() for s in v)
                and len(set(v)) == len(v)):
            return None
        return "a list of 1 to 26 distinct non-empty labels, best first"
    return Key(check, (["A", "A", "B"], [], "A", ["A", ""], [1, 2]))


def horizons() -> Key:
    def check(v):
        if (isinstance(v, list) and 1 <= len(v) <= 12 and all(_is_number(h) and 0 < h <= 120 for h in v)
                and len(set(v)) == len(v)):
            return None
        return "a list of 1 to 12 distinct horizons in months, each > 0 and <= 120"
    return Key(check, ([-3, 6], 3, [], [3, 3], ["abc"], [0]))


def texts(optional: bool = False) -> Key:
    def check(v):
        if v is None and optional:
            return None
        if isinstance(v, list) and all(isinstance(t, (str, int)) and not isinstance(t, bool) and str(t) for t in v):
            return None
        return "a list of texts" + (" or null" if optional else "")
    return Key(check, ("abc", [None], 1) + (() if optional else (None,)))


def timezone() -> Key:
    def check(v):
        if v is None:
            return None
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(v)
            return None
        except (ValueError, KeyError, TypeError, OSError):
            return "an IANA time zone such as Europe/London, or null"
    return Key(check, ("Mars/Olympus", "", 3))


def optional_text() -> Key:
    return Key(lambda v: None if v is None or (isinstance(v, str) and v) else "a non-empty text or null", ("", 1))


def date_format() -> Key:
    """A strptime format (every directive known to Python), ISO8601, or null."""
    def check(v):
        if v is None or v == "ISO8601":
            return None
        try:
            if isinstance(v, str) and "%" in v:
                dt.datetime.strptime(dt.datetime(2021, 3, 4, 5, 6, 7).strftime(v), v)
                return None
        except ValueError:
            pass
        return "a strptime format such as %Y-%m-%d or %d/%m/%Y (Python's directives), ISO8601, or null"
    return Key(check, ("%Y-%m-%Q", "%", "", "2021-03-04", 1))


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
    "data.calibration_end": day(optional=True),
    "data.observation_end": day(optional=True),
    "data.seed_compatible": flag(),
    "data.capping.enabled": flag(),
    "data.capping.low_quantile": number(0, 0.5, hi_open=True),
    "data.capping.high_quantile": number(0.5, 1, lo_open=True),
    "data.capping.multiplier": number(0, 100),
    "data.analysis_date": day(optional=True),
    "data.analysis_offset_days": number(0, 3650, integer=True),
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
    elif p["data.acquired_after"] is not None:
        raise ConfigError("data.acquired_after: a rule for transaction logs; a snapshot has no log start, set it to null")


def _spark_checks(p: dict) -> None:  # engine=spark reads transaction logs (CSV/Parquet) by the same rules
    if p["data.source"] == "flo":
        raise ConfigError("engine.kind = 'spark': a FLO snapshot is one row per customer and fits in memory; "
                          "use -S engine=pandas with data=flo")
    if p["data.sheets"]:
        raise ConfigError(f"data.sheets = {p['data.sheets']!r}: the Spark reader reads CSV and Parquet, not Excel "
                          "workbooks; use -S engine=pandas")
