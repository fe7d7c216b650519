"""Stage `evaluate`: how well the model fits and forecasts.

Transaction logs: a rolling-origin backtest (cltv.backtest, docs/backtest.md). The daily table is
read once; for each origin (evaluate.*; default: the one split data.calibration_end ->
data.observation_end) the model is fitted on the calibration period (with data.acquired_after:
the customers first seen after its cut-off only, cltv.data.cohort) and scored on the holdout.
Every origin is checked before the first fit. A FLO snapshot has no holdout: fit on everything
and report in-sample goodness of fit and diagnostics.

metrics/evaluation.json  the first origin's headline (cltv.headline, at most 25, holdout error
                         first): holdout errors of the model and of the naive baseline (logs) or
                         in-sample checks (snapshots), interval coverage, diagnostics flags,
                         "warnings" (in words)
metrics/evaluation_details.json  the first origin's other figures: log-likelihoods, AIC/BIC,
                         chi-square details, the calibration fit's parameters
metrics/backtest.json    the summary over origins (mean, worst origin, origins beating the baseline)
plots/backtest.csv       one row per origin; plots/deciles.csv: the last origin's decile table
plots/*.csv              data of the other DVC plots declared in dvc.yaml, of the first origin
                         (holdout plots empty for a snapshot)
"""
import pandas as pd

from cltv import backtest, model_effects, model_season
from cltv.data import cohort, rfm
from cltv.errors import FitError
from cltv.evaluate import evaluate, evaluate_in_sample, holdout_predictions
from cltv.headline import split
from cltv.io import read_parquet, write_csv, write_json
from cltv.model import CLTVModel
from cltv.origins import origins
from pipelines.common import ROOT, run
from pipelines.settings import model_params, with_attributes


def origin_tables(p: dict, daily: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, pd.DataFrame]]:
    """Per origin ``(calibration end, holdout end, calibration/holdout table)``, each checked."""
    d, e = p["data"], p["evaluate"]
    out = []
    for start, end in origins(d["calibration_end"], d["observation_end"], e["origins"], e["count"],
                              e["spacing_weeks"], e["holdout_weeks"]):
        ch = with_attributes(p, rfm.calibration_holdout(daily, start, end))
        if d["acquired_after"] is not None:  # the cohort rule: fit and measure on customers acquired after it
            ch = ch[cohort.fitted(ch, start, d["acquired_after"])].reset_index(drop=True)
        backtest.check(ch, start, end, "data/daily.parquet")
        out.append((start, end, ch))
    return out


def one_origin(ch: pd.DataFrame, daily: pd.DataFrame, model: CLTVModel, start, end, tables: bool = True
               ) -> tuple[dict, dict, pd.DataFrame]:
    """The holdout metrics, plot tables (``tables``: the first origin's) and decile table of
    ``model`` fitted on ``ch``."""
    if tables and len(ch) < daily["customer_id"].nunique():  # the tracking plot: the fitted cohort's days
        daily = daily[daily["customer_id"].isin(ch["customer_id"])].reset_index(drop=True)
    pred = holdout_predictions(ch, model)
    metrics, plots = evaluate(ch, daily, model, start, end, tables, pred)
    metrics.update(model_effects.metrics(model))
    if model.designs_:  # the likelihood-ratio test and the forecast without covariates, per origin
        test = model.training_["covariate_tests"].get("purchases", {"lr": float("nan"), "p_value": float("nan")})
        plain = holdout_predictions(ch, model_effects.without(model))
        metrics.update(covariates_lr=test["lr"], covariates_p_value=test["p_value"],
                       mae_without_covariates=float((plain["actual"] - plain["predicted"]).abs().mean()))
    if model.season_:  # the likelihood-ratio test and the forecast without the season, per origin
        plain, test = holdout_predictions(ch, model_season.without(model)), model.season_["test"]
        metrics.update(season_lr=test["lr"], season_p_value=test["p_value"],
                       mae_without_season=float((plain["actual"] - plain["predicted"]).abs().mean()),
                       holdout_purchases_rel_error_without_season=float(plain["predicted"].sum() / plain["actual"].sum() - 1))
    naive = pred["baseline"].to_numpy() * ch["monetary_value"].to_numpy(dtype=float)  # the baseline's revenue
    ranks, deciles = backtest.ranking(ch["holdout_spend"].to_numpy(dtype=float), pred["predicted_revenue"].to_numpy(),
                                      naive)
    return {**metrics, **ranks}, plots, deciles


def fit(p: dict, ch: pd.DataFrame, start: pd.Timestamp, daily: pd.DataFrame) -> CLTVModel:
    """The model fitted on one origin's calibration table (a season: on its purchase days up to
    the origin); a failed fit names the origin."""
    try:
        return CLTVModel(**model_params(p)).fit(ch, purchase_days=daily, end=start)
    except FitError as exc:
        raise FitError(f"origin {start.date()} ({ch['T'].max():.1f} weeks of calibration): {exc}") from None


def main(p: dict) -> None:
    rows, deciles = [], pd.DataFrame(columns=["decile", "customers", "predicted", "actual"])
    if p["data"]["source"] == "flo":
        calibration = with_attributes(p, read_parquet(ROOT / "data/calibration.parquet"))
        model = CLTVModel(**model_params(p)).fit(calibration)
        metrics, plots = evaluate_in_sample(calibration, model)
        metrics.update(model_effects.metrics(model))
        print(f"evaluate: in-sample chi2 {metrics['insample_chi2']:.1f} ({metrics['insample_chi2_dof']} d.f.), "
              f"customers without repeat purchase {metrics['zero_repeat_observed']:.0f} observed vs "
              f"{metrics['zero_repeat_expected']:.1f} expected")
    else:
        daily = read_parquet(ROOT / "data/daily.parquet")
        for i, (start, end, ch) in enumerate(origin_tables(p, daily)):
            model = fit(p, ch, start, daily)
            found, tables, deciles = one_origin(ch, daily, model, start, end, i == 0)
            rows.append(backtest.row(i, start, end, found))
            if i == 0:
                metrics, plots = found, tables
            print(f"evaluate: origin {i} {start.date()} -> {end.date()} ({found['customers']:,} customers): holdout "
                  f"purchases {found['holdout_purchases_actual']:.0f}, predicted {found['holdout_purchases_predicted']:.1f}; "
                  f"MAE {found['mae']:.4f} (baseline {found['baseline_mae']:.4f}); Gini {found['gini']:.3f}, top "
                  f"decile {found['top_decile_capture']:.1%} of spend; {found['interval_level']:.0%} intervals hold for "
                  f"{found['holdout_coverage']:.1%} ({found['holdout_above']:.1%} above, {found['holdout_below']:.1%} "
                  f"below; randomised PIT {found['holdout_pit_coverage']:.1%}, spend {found['holdout_spend_pit_coverage']:.1%})")
            if "covariates_lr" in found:
                print(f"evaluate: origin {i} covariates: likelihood ratio {found['covariates_lr']:.1f} (p = "
                      f"{found['covariates_p_value']:.3g}); MAE {found['mae']:.4f} with them, "
                      f"{found['mae_without_covariates']:.4f} without")
            if "season_lr" in found:
                print(f"evaluate: origin {i} season: likelihood ratio {found['season_lr']:.1f} (p = "
                      f"{found['season_p_value']:.3g}); holdout purchases {found['holdout_purchases_rel_error']:+.1%} "
                      f"with it, {found['holdout_purchases_rel_error_without_season']:+.1%} without; MAE "
                      f"{found['mae']:.4f} with, {found['mae_without_season']:.4f} without")
            for note in found["warnings"] if i else ():
                print(f"evaluate: WARNING origin {start.date()}: {note}")
    table = pd.DataFrame(rows, columns=backtest.columns(rows))
    for name, frame in {**plots, "backtest": table, "deciles": deciles}.items():
        write_csv(ROOT / f"plots/{name}.csv", frame)
    headline, details = split(metrics)
    write_json(ROOT / "metrics/evaluation_details.json", details, sort_keys=False)  # parameters in model order
    write_json(ROOT / "metrics/evaluation.json", headline, sort_keys=False)
    s = backtest.summary(table) if rows else {"origins": 0}
    write_json(ROOT / "metrics/backtest.json", s, sort_keys=False)
    if len(rows) > 1:
        print(f"evaluate: over {s['origins']} origins MAE {s['mae_mean']:.4f} (worst {s['mae_worst']:.4f}, baseline "
              f"{s['baseline_mae_mean']:.4f}), beats the baseline on {s['mae_beats_baseline']}; Gini {s['gini_mean']:.3f}")
    for note in metrics["warnings"]:
        print(f"evaluate: WARNING {note}")


if __name__ == "__main__":
    run(main)
