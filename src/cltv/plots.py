"""PNG renderings of the evaluation plot tables (:func:`cltv.evaluate.evaluate`'s ``plots``).

The same tables are DVC plots (``dvc plots show``); these images are for the MLflow UI.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

#: name -> (title, x column, y columns, x label, y label, kind)
SPECS = {
    "holdout_by_frequency": ("Mean holdout purchases by calibration frequency", "frequency",
                             ["actual", "predicted"], "repeat purchases in calibration",
                             "mean purchases in holdout", "line"),
    "cumulative_repeat": ("Cumulative repeat purchases, actual vs BG/NBD", "week", ["actual", "model"],
                          "week", "cumulative repeat purchases", "line"),
    "calibration_histogram": ("Calibration frequency histogram, observed vs expected", "repeat_purchases",
                              ["observed", "expected"], "repeat purchases", "customers", "bar"),
}


def save_png(name: str, table: pd.DataFrame, path: str | Path) -> None:
    """Draw the plot ``name`` (a key of :data:`SPECS`) from its table into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title, x, ys, xlabel, ylabel, kind = SPECS[name]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        table.plot(x=x, y=ys, kind=kind, ax=ax, rot=0)
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        fig.tight_layout()
        fig.savefig(path, format="png", metadata={"Software": None})
    finally:
        plt.close(fig)


def save_pngs(tables: Path, out: Path) -> list[Path]:
    """Draw every plot of :data:`SPECS` whose table ``tables/<name>.csv`` has rows into
    ``out/<name>.png`` (a snapshot has no holdout tables); the PNGs written."""
    written = []
    for name in SPECS:
        table = pd.read_csv(Path(tables) / f"{name}.csv")
        if not table.empty:
            written.append(Path(out) / f"{name}.png")
            save_png(name, table, written[-1])
    return written
