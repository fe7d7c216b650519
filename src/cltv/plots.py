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
    "cumulative_repeat": ("Cumulative repeat purchases, actual vs model", "week", ["actual", "model"],
                          "week", "cumulative repeat purchases", "line"),
    "calibration_histogram": ("Calibration frequency histogram, observed vs expected", "repeat_purchases",
                              ["observed", "expected"], "repeat purchases", "customers", "bar"),
    "holdout_pit": ("Randomised PIT of holdout purchases (uniform = calibrated intervals)", "pit",
                    ["observed", "spend_observed", "expected"], "PIT", "share of customers", "bar"),
    "frequency_recency_grid": ("By frequency and recency, at the oldest customers' age", "recency",
                               ["p_alive", "expected_purchases"], "recency (weeks)",
                               "frequency (repeat purchases)", "heatmap"),
}


def save_png(name: str, table: pd.DataFrame, path: str | Path) -> None:
    """Draw the plot ``name`` (a key of :data:`SPECS`) from its table into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    title, x, ys, xlabel, ylabel, kind = SPECS[name]
    panels = len(ys) if kind == "heatmap" else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), dpi=100, squeeze=False)
    try:
        if kind == "heatmap":  # one panel per value, frequency (rows) x recency (columns)
            for ax, y in zip(axes[0], ys):
                grid = table.pivot(index="frequency", columns=x, values=y)
                image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
                ax.set_xticks(range(grid.shape[1]), [f"{v:.0f}" for v in grid.columns])
                ax.set(title=f"{title}: {y}", xlabel=xlabel, ylabel=ylabel)
                fig.colorbar(image, ax=ax)
        else:
            table.plot(x=x, y=ys, kind=kind, ax=axes[0][0], rot=0)
            axes[0][0].set(title=title, xlabel=xlabel, ylabel=ylabel)
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
