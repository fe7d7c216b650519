"""Stage `report`: the segment report for managers.

reports/segments.md         per-segment figures, channel and interest mix (FLO), warnings, actions
reports/segments.html       the same as one self-contained page (plot inline), for MLflow's artifact viewer
reports/clv_by_segment.png  each segment's share of the customers and of the expected value
"""
import json

import pandas as pd

from cltv import model_effects, model_season, report
from cltv.data import cohort
from cltv.io import atomic, read_parquet, write_text
from cltv.model import CLTVModel
from pipelines.common import ROOT, data_label, fit_warnings, run


def fit_text(model: CLTVModel, fit: dict) -> str:
    """``fit`` ({"purchases": params, "spend": params}) in words, with the models' names, the
    parameters in each model's own order (as in the model JSON)."""
    return "; ".join(f"{m.title} " + ", ".join(f"{k} = {fit[part][k]:.4g}" for k in m.param_names)
                     for part, m in (("purchases", model.purchases_), ("spend", model.spend_)))


def main(p: dict) -> None:
    model = CLTVModel.load(ROOT / "models/cltv_model.json")
    metrics = {**json.loads((ROOT / "metrics/evaluation_details.json").read_text()),
               **json.loads((ROOT / "metrics/evaluation.json").read_text())}
    scores = pd.read_csv(ROOT / "outputs/scores.csv", dtype={"customer_id": str})
    labels = list(model.segment_labels)
    summary = report.segment_summary(scores, read_parquet(ROOT / "data/customers.parquet"), labels,
                                     model.horizons_months)
    d = p["data"]
    mode = ("seed-compatible (the original procedure: frequency = total orders)" if d["seed_compatible"]
            else "correct (frequency = repeat purchases)")
    full = {"purchases": model.purchases_.params, "spend": model.spend_.params}
    checked = "holdout metrics and warnings" if "mae" in metrics else "in-sample checks and warnings"
    facts = [
        f"Data: {data_label(d)}, {len(scores):,} customers; mode: {mode}.",
        f"Scores and segments come from the fit on the whole history: {fit_text(model, full)}; penalizers "
        f"{model.purchases_penalizer:g} / {model.spend_penalizer:g}.",
        f"The {checked} come from the fit on the calibration period: {fit_text(model, metrics['calibration_fit'])}."
        if metrics["calibration_fit"] != full else f"The {checked} come from the same fit.",
        f"CLV: next {model.clv_months} months, discount {model.discount_rate:.1%} a month; total "
        f"{scores['clv'].sum():,.0f}. Segments: CLV quantiles, {', '.join(labels)} best first.",
    ]
    if model.season_:  # how much of next quarter's purchases the season carries
        with_season, flat = model_season.next_quarter(model, scores)
        facts.insert(2, f"Season ({model.season_['season']['shape']}, whole-history fit, scored from "
                        f"{model.season_['end']}): the next 3 months hold {with_season:,.0f} expected purchases, "
                        f"{with_season / flat - 1:+.1%} against a flat calendar ({flat:,.0f}); plots/season.csv has the "
                        "multiplier over the year.")
    if said := model_effects.sentences(model):
        facts.insert(2, "Covariates (whole-history fit): " + "; ".join(said) + ".")
    q = json.loads((ROOT / "metrics/data_quality.json").read_text())
    dropped = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in q["dropped"].items() if v) or "none"
    facts.insert(1, f"Data quality: {q['rows_read']:,} rows read, {q['rows_kept']:,} kept (dropped: {dropped})"
                 + (f"; {q['purchase_days']:,} purchase days from {q['first_date']} to {q['last_date']}."
                    if "purchase_days" in q else "."))
    if full_orders := q["cancellations"]["orders_cancelled_in_full"]:
        facts.insert(2, f"Cancellations: {full_orders:,} orders cancelled in full are no purchase (removed: "
                     f"{q['cancellations']['purchase_days_removed']:,} purchase days, "
                     f"{q['cancellations']['customers_removed']:,} customers).")
    if sentence := cohort.describe(q):
        facts.insert(2, f"First seen: {sentence}")
    warnings = fit_warnings(metrics, model)
    informative = model.purchases_.dropout_note() is None  # P(alive) says something
    sureness = (report.certainty(scores["segment_span"], model.interval_level)
                if "segment_span" in scores.columns and model.interval_level else None)
    parts = report.blocks(summary, report.actions(summary, informative), "Customer value segments", facts, warnings,
                          sureness)
    atomic(ROOT / "reports/clv_by_segment.png", lambda f: report.plot_clv_by_segment(scores, labels, f))
    write_text(ROOT / "reports/segments.md", report.markdown(parts, "clv_by_segment.png"))
    write_text(ROOT / "reports/segments.html", report.html(parts, (ROOT / "reports/clv_by_segment.png").read_bytes()))
    print(f"report: reports/segments.md and .html ({len(warnings)} warning(s))")


if __name__ == "__main__":
    run(main)
