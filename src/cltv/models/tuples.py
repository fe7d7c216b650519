"""Distinct rows of a few numeric columns, for computing once per distinct customer history.

Millions of customers share a few hundred thousand (x, t_x, T) histories (recency and T are
whole days), so the BG/NBD likelihood and every prediction are computed per distinct tuple
and broadcast back with the inverse index.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

DENSE_MIN = 1 << 16  # key spaces up to this size (or 4 slots per row) are counted in an array, not hashed


def distinct(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """The distinct rows of equal-length 1-D ``columns``.

    Returns ``(values, inverse, counts)``: one array per column holding the distinct rows in
    ascending lexicographic order, the position of each input row among them (so
    ``values[k][inverse]`` rebuilds column k), and how many input rows each distinct row has.
    NaN is a value like any other. The result does not depend on the row order of the input.
    """
    columns = tuple(np.asarray(c) for c in columns)
    if columns[0].size <= 1:  # e.g. one customer scored alone
        return columns, np.zeros(columns[0].size, dtype=np.intp), np.ones(columns[0].size, dtype=np.int64)
    key, size = np.zeros(columns[0].shape, dtype=np.int64), 1
    for column in columns:
        code, unique = pd.factorize(column, sort=True, use_na_sentinel=False)
        if size * unique.size > np.iinfo(np.int64).max // 2:  # keep the mixed-radix key in int64
            key, unique_keys = pd.factorize(key, sort=True)
            size = unique_keys.size
        key *= unique.size  # in place: the memory of a few columns at 10 M rows
        key += code
        del code
        size *= unique.size
    if size <= max(DENSE_MIN, 4 * key.size):  # few possible keys for this many rows: count them in place
        counts = np.bincount(key, minlength=size)
        rank = np.cumsum(counts > 0)
        rank -= 1
        inverse, counts = rank[key], counts[counts > 0]
        del rank
    else:
        inverse, _ = pd.factorize(key, sort=True)
        counts = np.bincount(inverse)
    del key
    inverse = inverse.astype(np.intp, copy=False)
    row = np.empty(counts.size, dtype=np.intp)
    row[inverse] = np.arange(inverse.size, dtype=np.int32 if inverse.size < 2 ** 31 else np.intp)  # one row of each
    return tuple(c[row] for c in columns), inverse, counts
