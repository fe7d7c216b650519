"""The calendar: a multiplier ``s(t) = exp(delta . w(t))`` of every customer's purchase rate,
shared by the population, and the *operational time* it defines.

``w(t)`` holds, for day ``t``, the yearly shape's columns and the calendar covariates':

- shape ``months``: 11 sum-to-zero month contrasts (``month=1`` … ``month=11``: 1 in that month,
  -1 in December, else 0), so the twelve log-multipliers sum to zero and December's is minus
  the sum of the others;
- shape ``fourier``: ``sin k`` and ``cos k`` of 2 pi k (day of the year) / 365.2425 for
  k = 1 … ``harmonics``, a smooth shape with mean zero over the year;
- calendar covariates (promotions, holidays, price events): one column per event, its value on
  each day (0 on days the table does not list).

A purchase rate ``lambda s(t)`` is a constant rate ``lambda`` in operational time
``tau(t) = integral of s``: day ``d`` adds ``s(d) / 7`` operational weeks (a year of ``s = 1``
has 52.18 of them). So each customer's history in operational time is an ordinary one of the
purchase model (:mod:`cltv.models.seasonal`), and predictions follow ``s`` by measuring each horizon
in operational weeks from the scoring day.

Days are whole numbers, days since 1970-01-01 (:func:`day_numbers`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError, ModelError
from .numeric import matvec

SHAPES = ("none", "months", "fourier")
YEAR_DAYS = 365.2425
MAX_HARMONICS = 6


def day_numbers(dates) -> np.ndarray:
    """Days since 1970-01-01 (int64) of dates or timestamps (the calendar day)."""
    values = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[D]")
    return values.astype("int64")


@dataclass(frozen=True)
class Season:
    """What ``w(t)`` holds: the yearly ``shape`` ("none", "months", "fourier" with ``harmonics``
    pairs) and ``events``: event name -> {ISO day: value} (days not listed: 0)."""
    shape: str = "none"
    harmonics: int = 2
    events: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.shape not in SHAPES:
            raise ConfigError(f"model.season.shape {self.shape!r}: expected one of {list(SHAPES)}")
        if not (isinstance(self.harmonics, int) and 1 <= self.harmonics <= MAX_HARMONICS):
            raise ConfigError(f"model.season.harmonics {self.harmonics!r}: expected a whole number from 1 to "
                              f"{MAX_HARMONICS}")

    @property
    def active(self) -> bool:
        """Whether there is any column at all (a shape or an event)."""
        return self.shape != "none" or bool(self.events)

    def names(self) -> list[str]:
        """The columns of ``w(t)``, in order."""
        shape = {"none": [], "months": [f"month={m}" for m in range(1, 12)],
                 "fourier": [f"{f} {k}" for k in range(1, self.harmonics + 1) for f in ("sin", "cos")]}
        return shape[self.shape] + list(self.events)

    def features(self, days: np.ndarray) -> np.ndarray:
        """``w(t)`` for each of ``days`` (days since 1970-01-01): one row per day, one column per
        :meth:`names` entry."""
        days = np.asarray(days, dtype="int64")
        columns = []
        if self.shape == "months":
            month = days.astype("datetime64[D]").astype("datetime64[M]").astype("int64") % 12 + 1
            december = (month == 12).astype(float)
            columns += [(month == m).astype(float) - december for m in range(1, 12)]
        elif self.shape == "fourier":
            dates = days.astype("datetime64[D]")
            day_of_year = (dates - dates.astype("datetime64[Y]")).astype("int64")
            angle = 2.0 * np.pi * day_of_year / YEAR_DAYS
            for k in range(1, self.harmonics + 1):
                columns += [np.sin(k * angle), np.cos(k * angle)]
        for values in self.events.values():
            listed = pd.Series(list(values.values()), index=day_numbers(list(values)), dtype=float)
            columns.append(listed.reindex(days, fill_value=0.0).to_numpy())
        return np.column_stack(columns) if columns else np.zeros((len(days), 0))

    def to_dict(self) -> dict:
        """Plain data for the model JSON."""
        return {"shape": self.shape, "harmonics": self.harmonics, "events": self.events}

    @classmethod
    def from_dict(cls, d: dict) -> Season:
        """The season :meth:`to_dict` wrote."""
        try:
            return cls(d["shape"], int(d["harmonics"]), {k: {str(day): float(v) for day, v in days.items()}
                                                         for k, days in (d.get("events") or {}).items()})
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise ModelError(f"season: malformed ({exc}); expected the model JSON cltv wrote") from None


MAX_EVENTS = 20


def read_calendar(path) -> dict[str, dict[str, float]]:
    """A calendar table (CSV or Parquet): a ``date`` column (one row per day) and one numeric column
    per event (a promotion's 0/1, a price cut's depth): event -> {ISO day: value} of its non-zero
    days. One line naming the file, the column and the rows for a problem."""
    from .data.files import LINE, lines_text, read_table

    raw = read_table(path, expected="a header row with date and event columns, one row per day")
    lines = raw[LINE].to_numpy()
    events = [c for c in raw.columns if c not in (LINE, "date")]
    if "date" not in raw.columns or not events or len(events) > MAX_EVENTS:
        raise DataError(f"{path}: expected a 'date' column and 1 to {MAX_EVENTS} event columns; columns: "
                        f"{[c for c in raw.columns if c != LINE][:25]}")
    days = pd.to_datetime(raw["date"].astype(str).str.strip(), format="ISO8601", errors="coerce")
    if (bad := days.isna().to_numpy()).any():
        raise DataError(f"{path}: column 'date': unparseable date at {lines_text(lines[bad])}; expected YYYY-MM-DD")
    if (twice := days.duplicated().to_numpy()).any():
        raise DataError(f"{path}: column 'date': {days[twice].iloc[0].date()} listed twice (line {lines[twice][0]}); "
                        "expected one row per day")
    out = {}
    for name in events:
        values = pd.to_numeric(raw[name], errors="coerce").to_numpy(dtype=float)
        if (bad := ~np.isfinite(values)).any():
            raise DataError(f"{path}: column {name!r}: not a number at {lines_text(lines[bad])}; expected a value "
                            "on every day (0 when the event does not happen)")
        out[str(name)] = {str(d.date()): float(v) for d, v in zip(days, values) if v != 0.0}
    return out


def histories(daily: pd.DataFrame, end) -> tuple[np.ndarray, ...]:
    """What the fit with a season reads from purchase days (``customer_id``, ``date``, one row per
    customer and day, sorted by customer and day, as :func:`cltv.data.rfm.daily_purchases` gives
    them): per customer the id, repeat purchases x, first and last purchase days; every repeat
    purchase day; and the end day (days since 1970-01-01)."""
    days, ids = day_numbers(daily["date"]), daily["customer_id"].to_numpy()
    new = np.concatenate([[True], ids[1:] != ids[:-1]])
    last = np.concatenate([ids[1:] != ids[:-1], [True]])
    x = np.bincount(np.cumsum(new) - 1) - 1
    return ids[new], x, days[new], days[last], days[~new], int(day_numbers([end])[0])


REPEAT_COLUMNS = ("first_day", "day", "purchases")


def repeat_days(daily: pd.DataFrame) -> pd.DataFrame:
    """What a fit with a season reads from the purchase days (``customer_id``, ``date``, one row
    per customer and day) besides the RFM histories: per first purchase day and day, the number of
    repeat purchases (``first_day``, ``day``: days since 1970-01-01; ``purchases``). At most one row
    per pair of days, whatever the number of customers (:func:`cltv.engines.spark.repeat_days`
    computes the same in Spark)."""
    days, ids = day_numbers(daily["date"]), daily["customer_id"].to_numpy()
    first = pd.Series(days).groupby(ids, sort=False).transform("min").to_numpy()
    repeat = days > first
    table = pd.DataFrame({"first_day": first[repeat], "day": days[repeat]})
    return table.groupby(["first_day", "day"], sort=True).size().rename("purchases").reset_index()


class Clock:
    """Operational time at ``delta`` over the days ``first`` … ``last`` (inclusive):
    :meth:`weeks` of a (fractional) day number is the operational weeks since ``first``."""

    def __init__(self, season: Season, delta: np.ndarray, first: int, last: int):
        self.first = int(first)
        self.days = np.arange(self.first, int(last) + 1)
        self.w = season.features(self.days)
        delta = np.asarray(delta, dtype=float)
        self.s = np.exp(matvec(self.w, delta)) if delta.size else np.ones(len(self.days))
        self.cumulative = np.concatenate([[0.0], np.cumsum(self.s)]) / 7.0  # at the start of each day

    def weeks(self, day) -> np.ndarray:
        """Operational weeks from the start of day ``first`` to (fractional) day ``day``."""
        return np.interp(np.asarray(day, dtype=float) - self.first, np.arange(len(self.cumulative)), self.cumulative)

    def day(self, weeks) -> np.ndarray:
        """The (fractional) day number at which ``weeks`` operational weeks have passed."""
        return self.first + np.interp(np.asarray(weeks, dtype=float), self.cumulative,
                                      np.arange(len(self.cumulative), dtype=float))
