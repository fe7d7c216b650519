"""The backtest's origins and the champion metrics: what the configuration check needs of the
backtest (:mod:`cltv.backtest` measures), kept apart so that only the stages that evaluate depend
on the measuring code.

An origin is a pair of days ``(calibration end, holdout end)``.
"""
from __future__ import annotations

import pandas as pd

from .errors import ConfigError

#: the metrics a champion can be chosen by (registry.champion_metric), and whether lower is better;
#: each has a naive-baseline counterpart ``baseline_<name>``
LOWER_IS_BETTER = {"mae": True, "rmse": True, "pearson": False, "spearman": False}


def origins(calibration_end: str, observation_end: str, explicit: list[str] | None = None, count: int = 1,
            spacing_weeks: int = 13, holdout_weeks: int | None = None) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The origins ``[(calibration end, holdout end)]`` in time order: the ``explicit`` calibration
    ends, or else ``count`` of them ``spacing_weeks`` apart from ``calibration_end``; each holdout
    lasts ``holdout_weeks`` weeks (None: up to ``observation_end``) and ends on or before
    ``observation_end``. The default (one origin, no holdout length) is the single split
    ``(calibration_end, observation_end)``. Raises :class:`ConfigError` naming the key."""
    last = pd.Timestamp(observation_end)
    if explicit and count != 1:
        raise ConfigError(f"evaluate.count = {count} with evaluate.origins = {list(explicit)}: the origins are either "
                          "listed or made by the rule; keep evaluate.count=1 with a list")
    if explicit:
        starts = sorted(pd.Timestamp(d) for d in explicit)
        key = "evaluate.origins"
    else:
        starts = [pd.Timestamp(calibration_end) + pd.Timedelta(weeks=spacing_weeks * i) for i in range(count)]
        key = "evaluate.count / evaluate.spacing_weeks"
    if len(set(starts)) < len(starts):
        raise ConfigError(f"{key}: the calibration ends {[str(s.date()) for s in starts]} repeat one; expected distinct days")
    out = [(s, last if holdout_weeks is None else s + pd.Timedelta(weeks=holdout_weeks)) for s in starts]
    for start, end in out:
        if start >= last or end > last:
            raise ConfigError(f"{key}: the origin {start.date()} with its holdout to {end.date()} does not end on or "
                              f"before data.observation_end ({last.date()}); use fewer or earlier origins or a shorter "
                              "evaluate.holdout_weeks")
    return out
