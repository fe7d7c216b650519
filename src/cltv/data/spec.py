"""Every data rule of the ``prepare`` stage in one object, :class:`DataSpec`.

A :class:`DataSpec` is a :class:`~cltv.data.transactions.LogSpec` (how to read a transaction log:
column names, amount or quantity x unit price, cancellations, guests, non-positive amounts, the
market filter, the time zone, Excel sheets, the date format) plus the source and the FLO snapshot
rules (outlier capping, the analysis-date offset in days, the seed-compatible frequency). It is
built from the ``data.*`` config (:meth:`DataSpec.from_config`), recorded in the model JSON as
``data_rules`` (:meth:`DataSpec.to_dict`, the same keys and nesting as ``data.*``) and read back
from it (:meth:`DataSpec.from_dict`), so ``cltv score`` reads new data by the rules the model was
trained with. Per-run values are not rules: the input path, ``calibration_end``,
``observation_end`` and ``analysis_date`` are arguments of :func:`cltv.data.prepare.prepare`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..hyperparameters import flatten
from .transactions import LogSpec

SOURCES = ("transactions", "flo")  # CDNOW is a transaction log (data/raw/transactions.csv)
PER_RUN = ("path", "cdnow_file", "calibration_end", "observation_end", "analysis_date", "acquired_after",
           "customers", "calendar")  # not rules of reading the log (the attributes and calendar tables)
CHOICES = {"cancellations": ("drop", "net"), "missing_customer": ("error", "drop"), "nonpositive": ("keep", "drop")}
#: DataSpec field -> its key in ``data.*`` (a dotted key is nested)
KEYS = {"source": "source", "customer_col": "customer_col", "date_col": "date_col", "amount_col": "amount_col",
        "quantity_col": "quantity_col", "price_col": "price_col", "invoice_col": "invoice_col",
        "product_col": "product_col", "cancel_prefix": "cancellations.invoice_prefix",
        "cancel_negative": "cancellations.negative", "cancellations": "cancellations.treatment", "missing_customer": "missing_customer",
        "nonpositive": "nonpositive_amounts", "filter_column": "filter.column", "filter_values": "filter.values",
        "timezone": "timezone", "sheets": "sheets", "date_format": "date_format",
        "seed_compatible": "seed_compatible", "capping": "capping.enabled", "cap_low": "capping.low_quantile",
        "cap_high": "capping.high_quantile", "cap_multiplier": "capping.multiplier",
        "analysis_offset_days": "analysis_offset_days", "first_purchase": "first_purchase"}


@dataclass(frozen=True)
class DataSpec(LogSpec):
    """The data rules: a :class:`LogSpec` (transaction logs) + the source and the FLO rules."""
    source: str = "transactions"        # transactions (CDNOW too) | flo
    seed_compatible: bool = False       # FLO: frequency = total orders (the analysts' procedure)
    capping: bool = True                # FLO: cap the order counts and values (cltv.data.flo.cap_outliers)
    cap_low: float = 0.01
    cap_high: float = 0.99
    cap_multiplier: float = 1.5
    analysis_offset_days: int = 2       # FLO: analysis date = latest last_order_date + this many days

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"data rules: source {self.source!r}: expected one of {list(SOURCES)}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"data rules: {KEYS[name]} {getattr(self, name)!r}: expected one of {list(allowed)}")
        if self.source != "flo" and self.amount_col is None and not (self.quantity_col and self.price_col):
            raise ConfigError("data rules: amount_col is null: expected quantity_col and price_col")
        if self.source != "flo" and self.amount_col is not None and (self.quantity_col or self.price_col):
            raise ConfigError(f"data rules: amount_col is {self.amount_col!r} while quantity_col / price_col are set: "
                              "set amount_col to null to use quantity x unit price, or quantity_col and price_col to "
                              "null to use the amount column")

    @classmethod
    def from_config(cls, data: dict) -> DataSpec:
        """The rules of the ``data.*`` config (docs/configuration.md); ``source: cdnow``
        is a transaction log. Per-run keys (path, dates) are ignored; every rule must be given
        (a stage that records the rules must declare them all in dvc.yaml)."""
        missing = sorted(set(KEYS.values()) - set(flatten(data)))
        if missing:
            raise ConfigError(f"data rules: {', '.join(f'data.{k}' for k in missing)} not given")
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, d: dict) -> DataSpec:
        """The spec of :meth:`to_dict` (or of the ``data.*`` config); a missing key keeps its
        default, an unknown one is refused."""
        flat = flatten(d)
        known = set(KEYS.values())
        unknown = sorted(k for k in flat if k not in known and k.split(".")[0] not in PER_RUN)
        if unknown:
            raise ConfigError(f"data rules: unknown key(s) {unknown}; expected some of {sorted(known)}")
        values = {field: flat[key] for field, key in KEYS.items() if key in flat}
        if values.get("source") == "cdnow":
            values["source"] = "transactions"
        values["filter_values"] = tuple(values.get("filter_values") or ())
        values["first_purchase"] = tuple(values.get("first_purchase") or ())
        if values.get("sheets") is not None:
            values["sheets"] = tuple(values["sheets"])
        return cls(**values)

    def to_dict(self) -> dict:
        """Plain JSON: the ``data.*`` keys of every rule, nested as in the config."""
        out: dict[str, Any] = {}
        for field, key in KEYS.items():
            value = getattr(self, field)
            if isinstance(value, tuple):
                value = list(value)
            *parents, leaf = key.split(".")
            node = out
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return out

    def replace(self, **changes) -> DataSpec:
        """A copy with ``changes`` (DataSpec field names) applied."""
        return dataclasses.replace(self, **changes)

