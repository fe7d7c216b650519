"""Sums and products in a fixed order, so results do not depend on the CPU or the thread count.

``a @ b``, ``np.dot``, ``np.corrcoef`` and ``scipy.stats.pearsonr`` go through BLAS, which picks
its kernel by CPU (``OPENBLAS_CORETYPE``) and splits long products over threads: the last bits
of the result change from machine to machine. The functions here use numpy's elementwise
products and its pairwise summation instead, whose order is fixed by the array's length alone.
They cost a temporary array each, which is nothing beside the special functions around them.
See docs/reproducibility.md. :func:`blocks` cuts long elementwise work into blocks, so that its
temporaries stay small beside the per-customer arrays (10 M customers: 80 MB per array).
"""
from __future__ import annotations

import numpy as np
from scipy.special import chdtrc


BLOCK_ROWS = 1 << 20


def blocks(size: int, rows: int = BLOCK_ROWS) -> list[slice]:
    """Consecutive slices of at most ``rows`` of ``size`` rows."""
    return [slice(start, min(start + rows, size)) for start in range(0, size, rows)]


def dot(a, b) -> float:
    """Sum of the elementwise product of two 1-D arrays (or an array and a scalar)."""
    return float(np.sum(np.multiply(a, b)))


def matvec(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``m @ v`` for a 2-D ``m``: each row's products summed along the row."""
    return np.sum(np.multiply(m, v), axis=-1)


def pearson(x, y, weights=None) -> float:
    """Pearson correlation of two equal-length arrays (rows repeated ``weights`` times, when
    given); 0.0 when either is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if weights is None:
        dx, dy = x - np.mean(x), y - np.mean(y)
    else:
        w = np.asarray(weights, dtype=float)
        dx, dy = x - dot(w, x) / w.sum(), y - dot(w, y) / w.sum()
        x, y = dx * w, dy * w  # the weighted cross products below
        sxx, syy = dot(x, dx), dot(y, dy)
        return 0.0 if sxx == 0.0 or syy == 0.0 else float(np.clip(dot(x, dy) / np.sqrt(sxx * syy), -1.0, 1.0))
    sxx, syy = dot(dx, dx), dot(dy, dy)
    if sxx == 0.0 or syy == 0.0:
        return 0.0
    return float(np.clip(dot(dx, dy) / np.sqrt(sxx * syy), -1.0, 1.0))


def spearman(x, y) -> float:
    """Spearman rank correlation (Pearson of the average ranks, as ``scipy.stats.spearmanr``)."""
    return pearson(average_ranks(x), average_ranks(y))


def average_ranks(values) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given the mean of their ranks (``scipy.stats.rankdata``'s
    "average"), without importing ``scipy.stats`` (half a second per stage)."""
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.isnan(values).any():
        return np.full(values.size, np.nan)  # as scipy: a missing value leaves every rank unknown
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))  # first position of each tie
    ends = np.append(starts[1:], values.size)  # one past the last
    ranks = np.empty(values.size)
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def chi2_sf(statistic: float, dof: float) -> float:
    """P(chi-square with ``dof`` degrees of freedom > ``statistic``) (``scipy.stats.chi2.sf``:
    nan without degrees of freedom, 1 below 0)."""
    if not dof > 0:
        return float("nan")
    return 1.0 if statistic < 0 else float(chdtrc(dof, statistic))


def chisquare(counts) -> tuple[float, float]:
    """Pearson's statistic of ``counts`` against equal expected counts, and its p-value on
    len(counts) - 1 degrees of freedom (``scipy.stats.chisquare``)."""
    counts = np.asarray(counts, dtype=float)
    expected = np.mean(counts)
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    return statistic, chi2_sf(statistic, counts.size - 1)
