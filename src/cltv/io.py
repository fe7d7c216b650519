"""Files in and out. Output is atomic: write to a temporary file in the same folder, then
rename, so a failed or interrupted stage never leaves a half-written file, and the previous
output stays intact until the new one is complete. Parquet input is read a column at a time
(:func:`read_parquet`), so reading a table costs little more than the table.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic(path: str | Path, write: Callable[[Path], None], folder: bool = False) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path`` in one rename: the one way cltv
    replaces an output, a file or (``folder``: ``write`` creates a folder, e.g. Spark's Parquet
    part files) a folder. A folder at ``path`` is moved aside first and removed after; a file
    replaced by a folder is removed just before the rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would create it (mkstemp's file is owner-only)
    old = path.with_name(f".{path.name}.old")
    try:
        write(tmp)
        if path.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            path.rename(old)
        elif folder and path.exists():
            path.unlink()
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        if old.is_dir() and not path.exists():  # interrupted between the two renames: put the folder back
            old.rename(path)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, data, sort_keys: bool = True) -> None:
    """``data`` as indented JSON (keys sorted unless told to keep their order), atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=sort_keys, allow_nan=False) + "\n")


def write_csv(path: str | Path, df: pd.DataFrame) -> None:
    atomic(path, lambda p: df.to_csv(p, index=False, lineterminator="\n"))


def write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    atomic(path, lambda p: df.to_parquet(p, index=False))


def read_parquet(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file or folder (Spark's part files) as ``pd.read_parquet`` reads it, with the
    same dtypes, but one column at a time: the peak memory is the table plus one column, where
    ``pd.read_parquet`` holds the whole Arrow table beside the result. The columns are not
    copied into one block (pandas' copy-on-write still protects them)."""
    import pyarrow
    import pyarrow.dataset as ds

    schema = ds.dataset(path, format="parquet", partitioning="hive").schema
    if any(not isinstance(i, dict) for i in (schema.pandas_metadata or {}).get("index_columns", [])):
        return pd.read_parquet(path, columns=columns)  # a stored index: pandas' own reader restores it
    if columns is None:
        columns = [c for c in schema.names if not c.startswith("__index_level_")]
    table = pd.DataFrame({c: pd.read_parquet(path, columns=[c])[c] for c in columns}, copy=False)
    pyarrow.default_memory_pool().release_unused()  # Arrow's buffers, kept for reuse, back to the system
    return table
