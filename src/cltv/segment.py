"""A/B/C/D value segments from CLV quantiles, and the per-segment profile.

Rule: with ``n`` labels (best first, e.g. ``["A", "B", "C", "D"]``) the ``n - 1`` cut-offs are
the CLV quantiles at 1/n, 2/n, ... of the *training* population, with linear interpolation
(numpy's default, the same as ``pandas.qcut``). Bins are closed on the right: a CLV equal to a
cut-off falls in the lower segment. Equal CLVs therefore always share a segment, so segments
can be unequal in size when many customers tie (12-month CLV on CDNOW has about 1,030
distinct values among 2,357 customers); on the training data the result equals
``pd.qcut(clv, n)`` whenever the cut-offs are distinct. Cut-offs are stored with the model, so
a customer scored later alone gets the segment the population rule gives.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import numeric
from .errors import ConfigError, DataError


def quantile_cutoffs(values: np.ndarray | pd.Series, n_segments: int, weights=None) -> list[float]:
    """The ``n_segments - 1`` ascending cut-offs (quantiles at k / n_segments). ``weights``
    (whole numbers): each value stands for that many customers; the cut-offs are then exactly
    those of the values repeated that often."""
    values = np.asarray(values, dtype=float)
    if n_segments < 1:
        raise ConfigError("n_segments must be at least 1")
    if values.size == 0:
        raise DataError("cannot take segment cut-offs of an empty population")
    probs = np.arange(1, n_segments) / n_segments
    if weights is None:
        return [float(c) for c in np.quantile(values, probs)]
    order = np.argsort(values, kind="stable")
    values, ends = values[order], np.cumsum(np.asarray(weights, dtype=np.int64)[order])  # last position + 1
    out = []
    n = int(ends[-1])
    for p in probs:
        h = (n - 1) * p  # numpy's position for method "linear", in its own arithmetic
        k = int(np.floor(h))
        a, b = (values[np.searchsorted(ends, i, side="right")] for i in (k, min(k + 1, n - 1)))
        t = h - k
        out.append(float(b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t))  # numpy's lerp
    return out


def assign(values: np.ndarray | pd.Series, cutoffs: Sequence[float], labels: Sequence[str]) -> pd.Categorical:
    """Segment label per value, as a categorical whose categories are ``labels`` (best first);
    ``len(cutoffs) == len(labels) - 1``."""
    if len(cutoffs) != len(labels) - 1:
        raise ConfigError(f"{len(labels)} labels need {len(labels) - 1} cut-offs, got {len(cutoffs)}")
    values, cuts = np.asarray(values, dtype=float).ravel(), np.asarray(cutoffs, dtype=float)
    codes = np.empty(values.size, dtype=np.int8 if len(labels) <= 127 else np.int64)
    for rows in numeric.blocks(values.size):  # a block at a time: no full-length temporaries
        codes[rows] = len(labels) - 1 - np.searchsorted(cuts, values[rows], side="left")
    return pd.Categorical.from_codes(codes, dtype=_dtype(tuple(str(label) for label in labels)))


@functools.lru_cache(maxsize=16)
def _dtype(labels: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(labels))


def profile(scores: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Per segment (best first): customers, their share, share of total CLV, and
    mean/min/max of clv, frequency, monetary_value, recency (weeks) and p_alive."""
    g = scores.groupby("segment", sort=False, observed=True)
    stats = g[["clv", "frequency", "monetary_value", "recency", "p_alive"]].agg(["mean", "min", "max"])
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    out = pd.DataFrame({"customers": g.size()})
    out["customer_share"] = out["customers"] / len(scores)
    total = scores["clv"].sum()
    out["clv_total"] = g["clv"].sum()
    out["clv_share"] = out["clv_total"] / total if total != 0 else np.nan
    out = out.join(stats).reindex(list(labels))
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out.index.name = "segment"
    return out.reset_index()
