"""One spec per evaluation plot (cltv.plots.SPECS) serves the evaluate tables, dvc.yaml's plots and
the PNGs logged to MLflow."""
import errno
import os
from pathlib import Path

import pandas as pd
import yaml

from cltv import backtest
from cltv.evaluate import evaluate, holdout_predictions
from cltv.plots import SPECS, drawing, dvc_plots, save_pngs

from .conftest import CAL_END, OBS_END

ROOT = Path(__file__).resolve().parents[1]


def test_dvc_yaml_declares_the_plots_of_the_specs():
    declared = yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]
    assert declared == dvc_plots(), "dvc.yaml's plots: section must be cltv.plots.dvc_plots():\n" + yaml.safe_dump(
        dvc_plots(), sort_keys=False)


def test_evaluate_writes_the_tables_the_specs_draw(sample_ch, sample_daily, sample_model, tmp_path):
    _, tables = evaluate(sample_ch, sample_daily, sample_model, CAL_END, OBS_END)
    pred = holdout_predictions(sample_ch, sample_model)
    found, tables["deciles"] = backtest.ranking(sample_ch["holdout_spend"].to_numpy(), pred["predicted_revenue"].to_numpy(),
                                                pred["baseline"].to_numpy())
    tables["backtest"] = pd.DataFrame([backtest.row(0, pd.Timestamp(CAL_END), pd.Timestamp(OBS_END), {**_, **found})])
    assert set(tables) == set(SPECS)
    for name, spec in SPECS.items():
        assert {spec.x, *spec.ys} <= set(tables[name].columns), name
        tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
    pngs = save_pngs(tmp_path, tmp_path)
    assert sorted(p.name for p in pngs) == sorted(f"{name}.png" for name in SPECS)
    assert all(p.read_bytes().startswith(b"\x89PNG") and p.stat().st_size > 10_000 for p in pngs)
    pd.read_csv(tmp_path / "frequency_recency_grid.csv")  # the heatmap table reads back
    with drawing(tmp_path) as drawn:  # the register stage's way: a second process, the same bytes
        assert {p.name: p.read_bytes() for p in drawn()} == {p.name: p.read_bytes() for p in pngs}
    _refused_and_stopped(tmp_path)


def _refused_and_stopped(tables: Path) -> None:
    """A drawing the machine refuses (here a 2,000-byte file-size limit) is the OSError it was, so
    the stage ends in one line; one never waited for is stopped and its folder removed."""
    import subprocess
    import sys

    import psutil

    code = ("import resource, signal, sys; from pathlib import Path; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)); from cltv.plots import drawing\n"
            "with drawing(Path(sys.argv[1])) as pngs:\n"
            "    try: pngs()\n"
            "    except OSError as exc: print(exc.errno, exc.filename)")
    proc = subprocess.run([sys.executable, "-c", code, str(tables)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})  # no .pyc cut short by the limit
    assert proc.returncode == 0 and proc.stdout.split()[0] == str(errno.EFBIG) and proc.stdout.split()[1], proc
    with drawing(tables):  # the worker may have other children (a server, a JVM): take the drawing's
        [child] = [p for p in psutil.Process().children() if "cltv.plots" in p.cmdline()]
        out = Path(child.cmdline()[-1])
    assert not child.is_running() and not out.exists()


def test_the_evaluate_stage_writes_and_register_logs_every_spec_table():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    tables = {f"plots/{name}.csv" for name in SPECS}
    evaluate_outs = {next(iter(o)) if isinstance(o, dict) else o for o in stages["evaluate"]["outs"]}
    assert tables <= evaluate_outs and tables <= set(stages["register"]["deps"])
