"""The evaluation plots, one spec each (:data:`SPECS`): the tables :func:`cltv.evaluate.evaluate`
returns under these names (``backtest`` and ``deciles``: the backtest's, :mod:`cltv.backtest`), the
DVC plots dvc.yaml declares (:func:`dvc_plots`) and the PNG renderings for the MLflow UI
(:func:`save_pngs`, or :func:`drawing` in a second process; ``python -m cltv.plots TABLES OUT``).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class Spec:
    """One evaluation plot table ``plots/<name>.csv`` (written by the evaluate stage), drawn by
    DVC as dvc.yaml declares it (:func:`dvc_plots`) and as a PNG for MLflow (:func:`save_png`)."""
    title: str
    x: str
    ys: tuple[str, ...]  # the columns drawn (DVC's templates take ``ys[0]`` and fold in the rest)
    x_label: str
    y_label: str
    template: str  # DVC template, .dvc/plots/<template>.json
    png: str  # the PNG's pandas plot kind, or "heatmap": one panel (and one DVC plot ``<y>_grid``) per y
    titles: tuple[str, ...] = ()  # heatmaps: each panel's title


SEVEN_PLUS = "repeat purchases in calibration (7+ = seven or more)"
SPECS = {
    "holdout_by_frequency": Spec("Mean holdout purchases by calibration frequency, actual vs predicted", "frequency",
                                 ("actual", "predicted"), SEVEN_PLUS, "mean purchases in holdout", "cltv_bars", "line"),
    "cumulative_repeat": Spec("Cumulative repeat purchases, actual vs model (dashed rule = end of calibration)", "week",
                              ("actual", "model"), "week", "cumulative repeat purchases", "cltv_tracking", "line"),
    "calibration_histogram": Spec("Customers by repeat purchases in calibration, observed vs expected",
                                  "repeat_purchases", ("observed", "expected"), SEVEN_PLUS, "customers", "cltv_bars",
                                  "bar"),
    "holdout_pit": Spec("Randomised PIT of holdout purchases, observed vs uniform (flat = calibrated 90 % intervals)",
                        "pit", ("observed", "spend_observed", "expected"),
                        "PIT of the actual holdout purchases under the model's predictive distribution",
                        "share of customers", "cltv_bars", "bar"),
    "backtest": Spec("Holdout MAE by origin (calibration end), model vs naive baseline", "calibration_end",
                     ("mae", "baseline_mae"), "origin (calibration end)", "holdout MAE (purchases per customer)",
                     "cltv_origins", "line"),
    "deciles": Spec("Holdout spend by decile of predicted revenue, last origin", "decile",
                    ("actual", "predicted"), "decile of predicted holdout revenue (1 = top 10 %)", "holdout spend",
                    "cltv_bars", "bar"),
    "season": Spec("Seasonal multiplier of the purchase rate over the year after the calibration end, 95 % band "
                   "(1 = no season)", "day", ("multiplier", "low", "high"), "days after the calibration end",
                   "multiplier of every purchase rate", "cltv_season", "line"),
    "frequency_recency_grid": Spec(
        "By frequency and recency, at the oldest customers' age", "recency", ("p_alive", "expected_purchases"),
        "recency (weeks)", "frequency (repeat purchases)", "cltv_heatmap", "heatmap",
        ("P(alive) by frequency and recency, at the oldest customers' age",
         "Expected purchases in the first horizon by frequency and recency, at the oldest customers' age")),
}


def dvc_plots() -> list[dict]:
    """The ``plots:`` list of dvc.yaml, from :data:`SPECS` (tests/test_dvc_yaml.py compares)."""
    out = []
    for name, spec in SPECS.items():
        labels = {"x_label": spec.x_label, "y_label": spec.y_label}
        if spec.png == "heatmap":
            out += [{f"{y}_grid": {"title": title, "template": spec.template, "x": spec.x,
                                   "y": {f"plots/{name}.csv": y}, **labels}} for y, title in zip(spec.ys, spec.titles)]
        else:
            out.append({f"plots/{name}.csv": {"title": spec.title, "template": spec.template, "x": spec.x,
                                               "y": spec.ys[0], **labels}})
    return out


def save_png(name: str, table: pd.DataFrame, path: str | Path) -> None:
    """Draw the plot ``name`` (a key of :data:`SPECS`) from its table into a PNG file."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = SPECS[name]
    title, x, ys, xlabel, ylabel, kind = spec.title, spec.x, list(spec.ys), spec.x_label, spec.y_label, spec.png
    panels = len(ys) if kind == "heatmap" else 1
    fig, axes = plt.subplots(1, panels, figsize=(7 * panels, 4.5), dpi=100, squeeze=False)
    try:
        if kind == "heatmap":  # one panel per value, frequency (rows) x recency (columns)
            for ax, y, panel in zip(axes[0], ys, spec.titles):
                grid = table.pivot(index="frequency", columns=x, values=y)
                image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", cmap="viridis")
                ax.set_xticks(range(grid.shape[1]), [f"{v:.0f}" for v in grid.columns])
                ax.set(title=panel, xlabel=xlabel, ylabel=ylabel)
                fig.colorbar(image, ax=ax)
        else:
            marks = {"marker": "o"} if kind == "line" and len(table) < 30 else {}  # a few points (origins) show
            table.plot(x=x, y=ys, kind=kind, ax=axes[0][0], rot=0, **marks)
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


@contextmanager
def drawing(tables: Path) -> Iterator[Callable[[], list[Path]]]:
    """:func:`save_pngs` of ``tables`` started in another process (a second core draws while the
    caller works); yields a function that waits for the PNGs and returns their paths. What the
    machine refuses there (a full disk, a file-size limit, no memory) comes back as the OSError or
    MemoryError it was. On exit an unfinished drawing is stopped and the PNGs are removed; the
    drawing also stops when the caller's process dies."""
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen([sys.executable, "-m", "cltv.plots", str(tables), out], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, preexec_fn=_die_with_parent)

        def pngs() -> list[Path]:
            try:
                _, err = proc.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"drawing the PNGs of {tables} took over 10 minutes") from None
            text = err.decode(errors="replace")
            if proc.returncode == REFUSED:
                refused = json.loads(text.strip().splitlines()[-1])
                if refused["errno"] is None:
                    raise MemoryError
                raise OSError(refused["errno"], refused["strerror"], refused["filename"])
            if proc.returncode != 0:
                raise RuntimeError(f"drawing the PNGs of {tables} failed: {text[-2000:]}")
            return sorted(Path(out).glob("*.png"))

        try:
            yield pngs
        finally:
            if proc.returncode is None:  # not waited for by pngs()
                proc.kill()
                proc.communicate()


REFUSED = 3  # the drawing's exit code when the machine refused it (its last stderr line says how, as JSON)


def _die_with_parent() -> None:
    """In the drawing's process: be killed when the process that started it dies (Linux)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


if __name__ == "__main__":
    try:
        save_pngs(Path(sys.argv[1]), Path(sys.argv[2]))
    except OSError as exc:
        print(json.dumps({"errno": exc.errno, "strerror": exc.strerror, "filename": str(exc.filename or sys.argv[2])}),
              file=sys.stderr)
        sys.exit(REFUSED)
    except MemoryError:
        print(json.dumps({"errno": None}), file=sys.stderr)
        sys.exit(REFUSED)
