"""Covariates in :class:`cltv.model.CLTVModel`: what customers' attributes do to their purchase
rate, dropout and spend (:mod:`cltv.models.effects`), fitted after the models without covariates
(their optimum is the start and the baseline of a likelihood-ratio test), and predictions made
per distinct covariate row with that row's models (:meth:`~cltv.models.base.ParametricModel.at`).

``model.covariates`` maps a process ("purchases", "dropout", "spend") to column names of the RFM
table (attributes joined to it, :func:`cltv.covariates.attach`); each process gets its own
design (:class:`cltv.covariates.Design`), stored in the model JSON.
"""
from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from .covariates import Design
from .covariates import names as columns_read
from .errors import ConfigError, DataError, FitError
from .models.effects import PROCESSES
from .models.tuples import distinct
from .numeric import chi2_sf
from .schema import validate_rfm
from .models.effects import fit as fit_effects

Z95 = 1.959963984540054  # the 97.5 % standard normal quantile


def check(covariates: dict | None, purchases: type, spend: type, fitter: str) -> dict[str, list[str]]:
    """``covariates`` (process -> column names) checked against the models' processes; {} for none."""
    wanted = {p: list(v) for p, v in (covariates or {}).items() if v}
    unknown = sorted(set(wanted) - set(PROCESSES))
    if unknown:
        raise ConfigError(f"model.covariates: unknown process(es) {unknown}; expected {list(PROCESSES)}")
    for process, names in wanted.items():
        model = purchases if process in ("purchases", "dropout") else spend
        if process not in model.links or model.rows is None:
            raise ConfigError(f"model.covariates.{process}: {model.title} takes no covariates on {process}")
        if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
            raise ConfigError(f"model.covariates.{process}: expected distinct column names, got {names}")
    if wanted and fitter != "fast":
        raise ConfigError("model.covariates need model.fitter=fast (lifetimes fits no covariates)")
    return wanted


def covariate_columns(rfm: pd.DataFrame, given: pd.DataFrame, wanted: dict[str, list[str]]) -> pd.DataFrame:
    """The checked RFM table ``rfm`` with the covariate columns ``wanted`` of the ``given`` table
    (where present: an absent one is named when the design is learned)."""
    names = sorted({c for v in wanted.values() for c in v} & set(given.columns) - set(rfm.columns))
    return rfm.assign(**{c: given[c] for c in names}) if names else rfm  # same index: validate_rfm keeps it


def fit(model, rfm: pd.DataFrame, weight, histories: tuple, spend_rows: tuple, wanted: dict[str, list[str]],
        everyone: pd.DataFrame | None = None, everyone_weight=None) -> dict:
    """Refit ``model.purchases_`` and ``model.spend_`` (fitted without covariates, with the model's
    penalizers) with the covariates ``wanted`` of ``rfm``'s customers; set ``model.designs_``,
    learned on ``everyone`` scored (default ``rfm``; each row standing for ``everyone_weight``
    customers, default one). ``histories``: the columns (x, tx, T) per
    customer; ``spend_rows``: (usable mask, x, m). An effect no fitted customer has is refused.
    Returns the likelihood-ratio test against the models without covariates, per model."""
    source = "the training table (RFM with attributes)"
    scored, scored_weight = (rfm, weight) if everyone is None else (everyone, everyone_weight)
    model.designs_ = {p: Design.learn(scored, columns, source, scored_weight) for p, columns in wanted.items()}
    model.without_covariates_ = {}  # the models without covariates (the test's baseline), until saved
    z = {p: d.matrix(rfm, source) for p, d in model.designs_.items()}
    names = {p: d.effects() for p, d in model.designs_.items()}
    tests = {}
    usable, gx, gm = spend_rows
    for part, columns, rows in (("purchases_", histories, slice(None)), ("spend_", (gx, gm), usable)):
        plain = getattr(model, part)
        linked = {p: z[p][rows] for p in z if p in plain.links}
        if not linked:
            continue
        w = None if weight is None else weight[rows]
        for p, matrix in linked.items():
            if matrix.size and (empty := [e for e, col in zip(names[p], matrix.T) if np.ptp(col) == 0]):
                raise DataError(f"{source}: model.covariates.{p}: {empty} is the same for every customer the "
                                f"{plain.title} model is fitted on ({len(matrix):,}: repeat buyers for spend, the "
                                "data.acquired_after cohort); merge rare levels or remove the column")
        penalizer = model.purchases_penalizer if part == "purchases_" else model.spend_penalizer
        fitted, result = fit_effects(plain, columns, linked, names, w, penalizer)
        if fitted is None:
            raise FitError(f"{plain.title} with covariates {sorted(linked)} did not converge ({result.message}); "
                           "remove covariates that separate few customers, or merge rare levels")
        before = plain.log_likelihood(*columns, weights=w)
        lr = 2.0 * (result.log_likelihood - before)
        df = sum(len(names[p]) for p in linked)
        model.without_covariates_[part] = plain
        tests[part.rstrip("_")] = {"model": plain.title, "log_likelihood": float(result.log_likelihood),
                                   "log_likelihood_without": float(before), "lr": float(lr), "df": df,
                                   "p_value": chi2_sf(max(lr, 0.0), df)}
        setattr(model, part, fitted)
    return tests


def attribute_names(model) -> list[str]:
    """The attribute columns a fitted model's covariates read (each once), [] without."""
    return columns_read({p: [c.name for c in d.columns] for p, d in model.designs_.items()})


def effects_table(model) -> pd.DataFrame:
    """One row per effect: ``model`` (title), ``process``, ``effect``, ``gamma``, ``se``,
    ``multiplier`` (of the purchase rate, the dropout rate or dropout parameters, the mean spend:
    exp(gamma)) and its 95 % interval ``low``, ``high`` (exp(gamma -+ 1.96 se))."""
    rows = []
    for fitted in (model.purchases_, model.spend_):
        se = fitted.standard_errors or {}
        for process, effects in fitted.effects.items():
            for name, gamma in effects.items():
                s = se.get(f"{process}:{name}", float("nan"))
                rows.append({"model": fitted.title, "process": process, "effect": name, "gamma": gamma, "se": s,
                             "multiplier": float(np.exp(gamma)), "low": float(np.exp(gamma - Z95 * s)),
                             "high": float(np.exp(gamma + Z95 * s))})
    return pd.DataFrame(rows, columns=["model", "process", "effect", "gamma", "se", "multiplier", "low", "high"])


def groups(model, rfm: pd.DataFrame) -> list[tuple[object, np.ndarray]]:
    """Per distinct covariate row of ``rfm``: the model of its customers (a copy with that row's
    purchase and spend models, :meth:`~cltv.models.base.ParametricModel.at`, and no designs) and
    their row positions. Without covariates: ``[(model, every row)]``."""
    if not model.designs_:
        return [(model, np.arange(len(rfm)))]
    validate_rfm(rfm)  # the whole table first: a bad row is named by its place in it, not in its group
    source = "the scored table (RFM with attributes)"
    if absent := [n for n in attribute_names(model) if n not in rfm.columns]:
        raise DataError(f"{source}: no column(s) {absent} for model.covariates; send every attribute the model was "
                        f"trained with: {attribute_names(model)}")
    z = {p: d.matrix(rfm, source) for p, d in model.designs_.items()}
    order = [p for p in PROCESSES if p in z]
    values, inverse, counts = distinct(*(c for p in order for c in z[p].T))
    rows = np.column_stack(values)
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(counts)[:-1])  # row positions per group
    out = []
    for g, row in enumerate(rows):
        at, values = 0, {}
        for p in order:
            values[p], at = row[at:at + z[p].shape[1]], at + z[p].shape[1]
        one = copy.copy(model)
        one.designs_ = {}
        one.purchases_ = model.purchases_.at({p: v for p, v in values.items() if p in model.purchases_.effects})
        one.spend_ = model.spend_.at({p: v for p, v in values.items() if p in model.spend_.effects})
        out.append((one, members[g]))
    return out


def by_group(model, rfm: pd.DataFrame, method):
    """``method(model_of_group, rows)`` run once per group of :func:`groups`, the results (arrays
    or tables, one row per customer) put back in ``rfm``'s order."""
    parts, where = [], []
    for one, idx in groups(model, rfm):
        parts.append(method(one, rfm.iloc[idx].reset_index(drop=True)))
        where.append(idx)
    position = np.argsort(np.concatenate(where), kind="stable")
    if isinstance(parts[0], pd.DataFrame):
        return pd.concat(parts, ignore_index=True).iloc[position].reset_index(drop=True)
    return np.concatenate(parts)[position]


def without(model):
    """A copy of a model fitted with covariates, with the models fitted without them (the same
    fit's start; not kept in the model JSON)."""
    plain = copy.copy(model)
    plain.designs_ = {}
    for part, fitted in getattr(model, "without_covariates_", {}).items():
        setattr(plain, part, fitted)
    return plain


def metrics(model) -> dict:
    """The covariates of a fitted model for an evaluation's details: ``covariates`` with the
    likelihood-ratio test per model and each effect's row of :func:`effects_table`; {} without."""
    if not model.designs_:
        return {}
    rows = effects_table(model).to_dict(orient="records")
    return {"covariates": {"tests": model.training_.get("covariate_tests", {}), "effects": rows}}


def sentences(model) -> list[str]:
    """Each effect in words, e.g. "order_channel Ios App vs Android App: buy 1.37x as often (95 %
    1.29-1.46)"; [] without covariates."""
    which = {e: c for d in model.designs_.values() for c in d.columns for e in c.effects()}  # effect -> column
    dropout = "drop out {}x as fast" if "beta" in model.purchases_.params else \
        "dropout Beta(a, b) scaled {}x (same mean dropout probability, less spread above 1)"
    verbs = {"purchases": "buy {}x as often", "dropout": dropout, "spend": "spend {}x as much per purchase"}
    out = []
    for row in effects_table(model).itertuples():
        c = which[row.effect]
        who = (f"{c.name} {row.effect[len(c.name) + 1:]} vs {c.reference}" if c.kind == "categorical"
               else f"{c.name} one standard deviation ({c.scale:.3g}) higher")
        out.append(f"{who}: {verbs[row.process].format(f'{row.multiplier:.3g}')} (95 % {row.low:.3g}-{row.high:.3g})")
    return out
