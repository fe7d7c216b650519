"""One spec per evaluation plot (cltv.plots.SPECS) serves the evaluate tables, dvc.yaml's plots and
the PNGs logged to MLflow."""
from pathlib import Path

import pandas as pd
import yaml

from cltv import backtest
from cltv.evaluate import evaluate, holdout_predictions
from cltv.plots import SPECS, dvc_plots, save_pngs

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


def test_the_evaluate_stage_writes_and_register_logs_every_spec_table():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    tables = {f"plots/{name}.csv" for name in SPECS}
    evaluate_outs = {next(iter(o)) if isinstance(o, dict) else o for o in stages["evaluate"]["outs"]}
    assert tables <= evaluate_outs and tables <= set(stages["register"]["deps"])
