"""Customer attributes as covariates: the design that turns named columns of an attributes table
into a numeric matrix, learned on the training customers and stored as plain JSON.

A text or boolean column is categorical (at most :data:`MAX_LEVELS` levels): one 0/1 column per
level except its reference level, the most frequent one (ties: the first in sorted order), so each
effect compares a level with the reference. A numeric column is centred on its training mean and
divided by its training standard deviation, so its effect is per standard deviation (a 0/1 flag
read as a level: give it as text or boolean). Problems are refused before the fit with covariates, one line each:
an unknown column, a column with missing values, a constant column, a customer without
attributes, and (when scoring) a level never seen in training.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError, ModelError

MAX_LEVELS = 50  # a categorical column with more levels is refused (an id or a free-text column?)


@dataclass(frozen=True)
class Column:
    """One attribute: ``kind`` "categorical" (``levels`` in sorted order, ``reference`` among
    them) or "numeric" (``mean`` and ``scale``, the training standard deviation)."""
    name: str
    kind: str
    levels: tuple[str, ...] = ()
    reference: str | None = None
    mean: float | None = None
    scale: float | None = None

    def effects(self) -> list[str]:
        """The names of this column's effects: ``name=level`` per non-reference level, or ``name``."""
        if self.kind == "numeric":
            return [self.name]
        return [f"{self.name}={level}" for level in self.levels if level != self.reference]


@dataclass(frozen=True)
class Design:
    """The covariate design of a fitted model: its columns in order (:meth:`effects` names the
    matrix's columns)."""
    columns: tuple[Column, ...]

    @classmethod
    def learn(cls, table: pd.DataFrame, names: list[str], source: str, weights: np.ndarray | None = None) -> Design:
        """The design of columns ``names`` of ``table`` (one row per training customer, or per
        distinct row standing for ``weights`` customers); ``source`` names the table in messages."""
        columns = []
        w = np.ones(len(table)) if weights is None else np.asarray(weights, dtype=float)
        for name in names:
            values = _column(table, name, source)
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                v = values.to_numpy(dtype=float)
                mean = float(np.average(v, weights=w))
                scale = float(np.sqrt(np.average((v - mean) ** 2, weights=w)))
                if scale == 0.0:
                    raise DataError(f"{source}: column {name!r} is constant ({v[0]:g}); expected a covariate that "
                                    "varies between customers: remove it from model.covariates")
                columns.append(Column(name, "numeric", mean=mean, scale=scale))
                continue
            counts = pd.Series(w).groupby(values.astype(str).to_numpy()).sum().sort_values(ascending=False)
            if len(counts) < 2:
                raise DataError(f"{source}: column {name!r} has one level ({counts.index[0]!r}); expected a covariate "
                                "that varies between customers: remove it from model.covariates")
            if len(counts) > MAX_LEVELS:
                raise DataError(f"{source}: column {name!r} has {len(counts):,} levels; expected at most {MAX_LEVELS} "
                                "(an id or free text is no covariate): group its levels or remove it")
            levels = tuple(sorted(counts.index))
            top = counts.max()
            reference = min(level for level in levels if counts[level] == top)
            columns.append(Column(name, "categorical", levels=levels, reference=reference))
        return cls(tuple(columns))

    def effects(self) -> list[str]:
        """The matrix's column names, in order."""
        return [effect for column in self.columns for effect in column.effects()]

    def matrix(self, table: pd.DataFrame, source: str) -> np.ndarray:
        """The covariates of ``table``'s customers (rows in table order) as a float matrix with one
        column per :meth:`effects` name: 0/1 for a level, (value - mean) / scale for a number."""
        out = np.zeros((len(table), len(self.effects())))
        j = 0
        for column in self.columns:
            values = _column(table, column.name, source)
            if column.kind == "numeric":
                if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                    raise DataError(f"{source}: column {column.name!r} is not numeric; expected numbers, as in "
                                    "training")
                out[:, j] = (values.to_numpy(dtype=float) - column.mean) / column.scale
                j += 1
                continue
            try:
                codes, uniques = pd.factorize(values, use_na_sentinel=False)  # each distinct value once, as text
            except TypeError:  # lists, dicts
                raise DataError(f"{source}: column {column.name!r} holds lists or objects; expected one text or "
                                "number per customer") from None
            text = [str(u) for u in uniques]
            unseen = sorted(set(text) - set(column.levels))
            if unseen:
                raise DataError(f"{source}: column {column.name!r}: level(s) {unseen[:5]} never seen in training "
                                f"(levels: {list(column.levels)}); expected one of those")
            for level in column.levels:
                if level != column.reference:
                    out[:, j] = np.isin(codes, [i for i, t in enumerate(text) if t == level])
                    j += 1
        return out

    def to_dict(self) -> list[dict]:
        """Plain data for the model JSON."""
        return [{k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(c).items() if v not in (None, ())}
                for c in self.columns]

    @classmethod
    def from_dict(cls, data: list[dict]) -> Design:
        """The design :meth:`to_dict` wrote; a malformed entry is a :class:`ModelError`."""
        try:
            columns = tuple(Column(**{**d, "levels": tuple(d.get("levels", ()))}) for d in data)
        except TypeError as exc:
            raise ModelError(f"covariates: malformed design ({exc}); expected the model JSON cltv wrote") from None
        for c in columns:
            ok = (c.kind == "numeric" and c.scale is not None and c.scale > 0 and c.mean is not None) or (
                c.kind == "categorical" and c.reference in c.levels)
            if not ok:
                raise ModelError(f"covariates: column {c.name!r} is not a valid {c.kind!r} column in the model JSON")
        return cls(columns)


def _column(table: pd.DataFrame, name: str, source: str) -> pd.Series:
    """Column ``name`` of ``table``, refused when absent or with missing values."""
    if name not in table.columns:
        raise DataError(f"{source}: no column {name!r} for model.covariates; columns: {list(table.columns)[:20]}")
    values = table[name]
    missing = values.isna().to_numpy()
    if missing.any():
        rows = [int(i) + 1 for i in np.flatnonzero(missing)[:5]]  # 1 = the first row after the header
        raise DataError(f"{source}: column {name!r} has {int(missing.sum()):,} missing value(s) (data rows {rows}); "
                        "expected a value for every customer: fill them or remove the column from model.covariates")
    return values


def names(covariates: dict[str, list[str]]) -> list[str]:
    """The attribute columns a covariates setting (process -> column names) reads, each once, in
    order of appearance."""
    return list(dict.fromkeys(name for columns in covariates.values() for name in columns))


def attach(customers: pd.DataFrame, attributes: pd.DataFrame, id_col: str, source: str) -> pd.DataFrame:
    """The rows of ``attributes`` (keyed by ``id_col``) for ``customers["customer_id"]``, in their
    order; a customer without attributes, or listed twice, is refused."""
    if id_col not in attributes.columns:
        raise DataError(f"{source}: no id column {id_col!r}; columns: {list(attributes.columns)[:20]}")
    ids = attributes[id_col].astype(str)
    if ids.duplicated().any():
        raise DataError(f"{source}: customer {ids[ids.duplicated()].iloc[0]!r} is listed more than once; expected one "
                        "row per customer")
    table = attributes.set_axis(ids.to_numpy()).reindex(customers["customer_id"].astype(str).to_numpy())
    absent = table[id_col].isna().to_numpy()
    if absent.any():
        first = customers["customer_id"].astype(str).to_numpy()[absent][:5]
        raise DataError(f"{source}: {int(absent.sum()):,} customer(s) without attributes (e.g. {list(first)}); expected "
                        "a row for every customer of the log")
    return table.reset_index(drop=True)


def read_attributes(path, id_col: str) -> pd.DataFrame:
    """A customer attributes table (CSV or Parquet, one row per customer) with its id column
    ``id_col`` as text named ``customer_id``; a CSV column whose every value is a number is
    numeric, any other is text (an empty cell is a missing value)."""
    from .data.files import LINE, read_table

    raw = read_table(path, expected="a header row and one row per customer").drop(columns=LINE)
    if id_col not in raw.columns:
        raise DataError(f"{path}: no id column {id_col!r} (data.customers.id_col); columns: {list(raw.columns)[:20]}")
    out = {}
    for name in raw.columns:
        values = raw[name]
        if name != id_col and (values.dtype == object or isinstance(values.dtype, pd.StringDtype)):
            values = values.where(values != "")
            numbers = pd.to_numeric(values, errors="coerce")
            values = numbers if name != id_col and numbers.notna().sum() == values.notna().sum() else values
        out["customer_id" if name == id_col else name] = values
    table = pd.DataFrame(out)
    table["customer_id"] = table["customer_id"].astype(str)
    return table


def join(table: pd.DataFrame, customers: pd.DataFrame, names: list[str], source: str) -> pd.DataFrame:
    """``table`` (with ``customer_id``) with the columns ``names`` of ``customers`` (one row per
    customer, keyed by ``customer_id``, e.g. data/customers.parquet), for training and scoring
    alike; an absent column or customer, or a column ``table`` already has, is refused (``source``
    names ``customers``)."""
    if not names:
        return table
    if clash := [n for n in names if n in table.columns]:
        raise DataError(f"{source}: column(s) {clash} are already there (a log's own attributes, docs/covariates.md); "
                        "rename them in the attributes table")
    absent = [n for n in names if n not in customers.columns]
    if absent:
        raise DataError(f"{source}: no column(s) {absent} for model.covariates; columns: "
                        f"{[c for c in customers.columns if c != 'customer_id'][:20]} (data.customers adds a table's)")
    rows = attach(table, customers, "customer_id", source)
    return table.assign(**{n: rows[n].to_numpy() for n in names})
