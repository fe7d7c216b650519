"""The one file reader of cltv's data sources: transaction logs and FLO snapshots.

:func:`read_table` reads CSV (``.csv``, ``.csv.gz``: text, UTF-8 with or without a BOM),
Parquet (typed) and Excel workbooks (``.xlsx``, ``.xlsm``: the sheets named, or all, joined),
and adds the column ``__line__``: where each row is in the file, for error messages. Every
failure to read is one :class:`~cltv.errors.DataError` line naming the file and what was expected.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..io import read_parquet

LINE = "__line__"


def lines_text(lines: np.ndarray, limit: int = 5) -> str:
    """``"line 3"`` or ``"lines 3, 5 and 2 more"``: up to ``limit`` of the ``__line__`` values."""
    shown = ", ".join(str(v) if isinstance(v, str) else str(int(v)) for v in lines[:limit])
    more = f" and {len(lines) - limit} more" if len(lines) > limit else ""
    return f"{'line' if len(lines) == 1 else 'lines'} {shown}{more}"


def is_parquet(path: Path) -> bool:
    suffixes = "".join(path.suffixes).lower()
    return ".parquet" in suffixes or suffixes.endswith(".pq")


def _header(path: Path, suffixes: str, sheets: tuple | None) -> list[str]:
    """The column names as the file holds them (pandas renames a repeated one ``name.1``)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    if suffixes.endswith((".xlsx", ".xlsm")):
        return []  # each sheet has its own header; pandas reads it
    first = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return first.iloc[0].tolist() if len(first) else []


def _check_unique(path: Path, names: list[str]) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path}: column(s) {repeated} appear more than once in the header; expected each column "
                        "once (rename or drop the copies)")


def read_table(path: str | Path, sheets: tuple | None = None,
               expected: str = "a header row and transactions") -> pd.DataFrame:
    """The rows of ``path`` as read (CSV as text, Parquet typed, Excel sheets joined) with column
    ``__line__``: the editor's line number of a CSV row (the header is line 1; blank lines are
    skipped but counted), ``<sheet>:<row>`` as the sheet shows it for Excel, the row number + 1
    for Parquet. ``expected`` completes the message about an empty file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    suffixes = "".join(path.suffixes).lower()
    try:
        _check_unique(path, _header(path, suffixes, sheets))
        if is_parquet(path):
            raw = read_parquet(path)
            return raw.assign(**{LINE: np.arange(2, len(raw) + 2)})
        if suffixes.endswith((".xlsx", ".xlsm")):
            book = pd.read_excel(path, sheet_name=list(sheets) if sheets else None, dtype=object)
            frames = [df.assign(**{LINE: [f"{name}:{i + 2}" for i in range(len(df))]}) for name, df in book.items()]
            return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({LINE: []})
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skip_blank_lines=False)
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty; expected {expected}") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: cannot be read as CSV: {str(exc).strip()}; expected comma-separated columns "
                        "(check the delimiter is a comma and that text holding commas is quoted)") from None
    except (EOFError, gzip.BadGzipFile, zlib.error):
        raise DataError(f"{path}: the compressed file is truncated or damaged; expected a complete .csv.gz "
                        "(copy or export it again)") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path}: cannot be read: {exc}") from None
    except ValueError as exc:
        if "Worksheet named" in str(exc):
            raise DataError(f"{path}: {exc}; set data.sheets to names the workbook has") from None
        raise DataError(f"{path}: cannot be read: {exc}") from None
    raw[LINE] = np.arange(2, len(raw) + 2)
    blank = (raw.drop(columns=LINE) == "").all(axis=1)
    return raw[~blank].reset_index(drop=True)


def state(path: str | Path) -> tuple[int, int, int]:
    """What tells one version of a file (or folder) from the next: inode, size, modification time (ns)."""
    st = Path(path).stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def unchanged_since(path: str | Path, before: tuple[int, int, int]) -> None:
    """A :class:`~cltv.errors.DataError` when ``path`` was replaced or written to since ``before``
    (:func:`state`): results read from it would not be the content DVC records for it."""
    if state(path) != before:
        raise DataError(f"{path}: the file changed while it was read; nothing was written: run the stage again "
                        "once the file is complete")
