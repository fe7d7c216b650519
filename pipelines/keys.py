"""The kinds of configuration key (:class:`Key`: a check and the values it must refuse) that
pipelines/config.py's schema is made of."""
from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath


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


def columns() -> Key:  # covariates: distinct column names
    def check(v):
        if isinstance(v, list) and len(v) <= 20 and all(isinstance(t, str) and t.strip() for t in v) and len(set(v)) == len(v):
            return None
        return "a list of at most 20 distinct column names ([] for none)"
    return Key(check, ("channel", None, ["a", "a"], [""], [1]))


def optional_repo_path() -> Key:
    inner = repo_path()
    return Key(lambda v: None if v is None or inner.check(v) is None else inner.check(v) + " or null",
               ("../x.csv", "/tmp/x.csv", ""))


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


def weeks() -> Key:  # null or whole weeks
    return Key(lambda v: None if v is None or number(1, 520, integer=True).check(v) is None
               else "null or a whole number of weeks from 1 to 520", (0, -3, 2.5, "13", 521))


def days() -> Key:  # a list of distinct days
    def check(v):
        if (isinstance(v, list) and len(v) <= 52 and all(day().check(d) is None for d in v)
                and len(set(v)) == len(v)):
            return None
        return "a list of at most 52 distinct dates YYYY-MM-DD"
    return Key(check, ("1997-09-30", ["1997-02-30"], ["1997-09-30", "1997-09-30"], None, [19970930]))
