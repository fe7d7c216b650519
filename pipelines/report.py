"""Stage `report`: the segment report for managers.

reports/segments.md         per-segment figures, channel and interest mix (FLO), warnings, actions
reports/clv_by_segment.png  CLV by segment
"""
import json

import pandas as pd
from common import ROOT, fit_warnings, run

from cltv import report
from cltv.io import atomic, write_text
from cltv.model import CLTVModel


def main(p: dict) -> None:
    model = CLTVModel.load(ROOT / "models/cltv_model.json")
    metrics = json.loads((ROOT / "metrics/evaluation.json").read_text())
    scores = pd.read_csv(ROOT / "outputs/scores.csv", dtype={"customer_id": str})
    customers = pd.read_parquet(ROOT / "data/customers.parquet")
    labels = list(model.segment_labels)
    summary = report.segment_summary(scores, customers, labels, model.horizons_months)
    d = p["data"]
    mode = ("seed-compatible (the original procedure: frequency = total orders)" if d.get("seed_compatible")
            else "correct (frequency = repeat purchases)")
    bg, gg = model.bgnbd_params_, model.gg_params_
    facts = [
        f"Data: `{d['path']}` ({d['source']}), {len(scores):,} customers; mode: {mode}.",
        f"BG/NBD r = {bg['r']:.4g}, alpha = {bg['alpha']:.4g}, a = {bg['a']:.4g}, b = {bg['b']:.4g}; "
        f"Gamma-Gamma p = {gg['p']:.4g}, q = {gg['q']:.4g}, v = {gg['v']:.4g}; "
        f"penalizers {model.bgnbd_penalizer:g} / {model.gg_penalizer:g}.",
        f"CLV: next {model.clv_months} months, discount {model.discount_rate:.1%} a month; total "
        f"{scores['clv'].sum():,.0f}. Segments: CLV quantiles, {', '.join(labels)} best first.",
    ]
    warnings = fit_warnings(metrics, model)
    text = report.markdown(summary, report.actions(summary), "Customer value segments", facts, warnings,
                           "clv_by_segment.png")
    atomic(ROOT / "reports/clv_by_segment.png", lambda f: report.plot_clv_by_segment(scores, labels, f))
    write_text(ROOT / "reports/segments.md", text + "\n")
    print(f"report: reports/segments.md ({len(warnings)} warning(s))")


if __name__ == "__main__":
    run(main)
