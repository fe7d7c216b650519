"""Side-by-side benchmark: plain `lifetimes` (as a user would write it) against this project, at
N simulated customers, plus the latency of a real `mlflow models serve`.

    ./dev.sh bench                                    # N = 100k and 1M, then serving latency
    ./dev.sh bench --sizes 100000 1000000 10000000 --transactions 10000000   # what docs/benchmarks.md shows
    ./dev.sh bench --sizes 4000 --requests 10 --big-rows 2000 --json out.json   # what the test runs
    ./dev.sh bench --render out.json                  # the tables of an earlier run again

Per N, the backbone simulator (:func:`cltv.data.simulate.simulate_transactions`, CDNOW-like true
parameters, 78 weeks) writes N customers' transactions; then each step runs in its own
process, once per path, so that its peak resident memory is its own:

- ``rfm``: transactions -> calibration/holdout RFM table (39 / 39 weeks). Plain:
  ``lifetimes.utils.calibration_and_holdout_data(freq="D", freq_multiplier=7)``. Ours:
  :func:`cltv.data.rfm.daily_purchases` + :func:`cltv.data.rfm.calibration_holdout`.
- ``model``: fit + score from the RFM table (BG/NBD + Gamma-Gamma fits, expected purchases at
  3 and 6 months, P(alive), 6-month CLV at 1 %/month, A-D segments). Plain: the fitters and
  ``customer_lifetime_value`` on one row per customer, ``pd.qcut``. Ours:
  ``CLTVModel(interval_level=None).fit(rfm).predict(rfm)``; then, timed apart (plain
  ``lifetimes`` has nothing like it), the 90 % predictive intervals of the purchases at 3 and 6
  months, the 6-month spend and the CLV (:func:`cltv.intervals.predict`, 199 draws per distinct
  history). The served model has the intervals on.

Wall time is measured inside the process around the step only (imports and reading the input
are excluded on both sides); peak RSS is the process's (VmHWM), input included: plain reads it
with ``pd.read_parquet`` as a user does, ours with :func:`cltv.io.read_parquet` as the stages do
(a column at a time), and fit + score reads the RFM columns only on both paths. Ours' fit +
score peak is read before the intervals start, and the peak with them is shown beside them. The
agreement checks: parameters (relative), predictions of both implementations from the *same*
parameters (relative, on up to 200,000 customers), RFM columns, and segment labels.
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from cltv.schema import WEEKS_PER_MONTH

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_END, OBSERVATION_END = "2020-09-29", "2021-06-29"  # 39 + 39 weeks after 2020-01-01
SIMULATION = {"start": "2020-01-01", "end": OBSERVATION_END, "acquisition_weeks": 12.0}
HORIZONS, CLV_MONTHS, DISCOUNT = (3, 6), 6, 0.01
LABELS = ("A", "B", "C", "D")
PREDICTIONS = [f"expected_purchases_{h}m" for h in HORIZONS] + ["p_alive", "clv"]
RFM_INPUT = ["customer_id", "frequency", "recency", "T", "monetary_value"]  # what fit + score reads
COMPARE_ROWS = 200_000
INTERVAL_LEVEL = 0.9
INTERVALS = "90 % predictive intervals (purchases 3m/6m, spend, CLV)"
PEAKS: dict[str, float] = {}  # a child's peak memory (GB) at the end of a part of its step


# ------------------------------------------------------------------------ the steps (children)
def _peak_rss_gb() -> float:
    """Peak resident memory of this process. Linux's ``ru_maxrss`` starts a child at its parent's
    peak (it survives fork + exec), so the kernel's per-process high-water mark VmHWM is read."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024 ** 2  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KiB on Linux, bytes on macOS


def rfm_plain(tx: pd.DataFrame) -> pd.DataFrame:
    from lifetimes.utils import calibration_and_holdout_data

    return calibration_and_holdout_data(
        tx, "customer_id", "date", calibration_period_end=CALIBRATION_END, observation_period_end=OBSERVATION_END,
        freq="D", freq_multiplier=7, monetary_value_col="amount",
    )


def rfm_ours(tx: pd.DataFrame) -> pd.DataFrame:
    from cltv.data import rfm

    return rfm.calibration_holdout(rfm.daily_purchases(tx), CALIBRATION_END, OBSERVATION_END)


def model_plain(rfm: pd.DataFrame, timings: dict) -> tuple[pd.DataFrame, dict]:
    """What a user writes around `lifetimes`, step by step (timed into ``timings``)."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    f, r, t, m = rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"]
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = now - clock
        clock = now

    bgf = BetaGeoFitter(penalizer_coef=0.0).fit(f, r, t)
    lap("BG/NBD fit")
    repeat = rfm[f > 0]
    ggf = GammaGammaFitter(penalizer_coef=0.0).fit(repeat["frequency"], repeat["monetary_value"])
    lap("Gamma-Gamma fit")
    out = pd.DataFrame({"customer_id": rfm["customer_id"]})
    for h in HORIZONS:
        out[f"expected_purchases_{h}m"] = bgf.conditional_expected_number_of_purchases_up_to_time(
            h * WEEKS_PER_MONTH, f, r, t)
        lap(f"expected purchases {h}m")
    out["p_alive"] = bgf.conditional_probability_alive(f, r, t)
    lap("P(alive)")
    out["clv"] = ggf.customer_lifetime_value(bgf, f, r, t, m, time=CLV_MONTHS, discount_rate=DISCOUNT,
                                             freq="W").to_numpy()
    lap(f"{CLV_MONTHS}-month CLV")
    out["segment"] = pd.qcut(out["clv"], len(LABELS), labels=LABELS[::-1])
    lap("segments")
    params = {**{k: float(v) for k, v in bgf.params_.items()}, **{k: float(v) for k, v in ggf.params_.items()}}
    return out, params


def model_ours(rfm: pd.DataFrame, timings: dict) -> tuple[pd.DataFrame, dict]:
    from cltv import intervals
    from cltv.model import CLTVModel
    from cltv.schema import validate_rfm

    t0 = time.perf_counter()
    model = CLTVModel(horizons_months=HORIZONS, clv_months=CLV_MONTHS, discount_rate=DISCOUNT,
                      segment_labels=LABELS, interval_level=None).fit(rfm)
    t1 = time.perf_counter()
    scores = model.predict(rfm)
    t2 = time.perf_counter()
    PEAKS["fit + score"] = _peak_rss_gb()  # before the intervals, as plain lifetimes has none
    intervals.predict(model, validate_rfm(rfm), INTERVAL_LEVEL)
    timings["fit (both models, segment cut-offs)"] = t1 - t0
    timings["score (all predictions, CLV, segments)"] = t2 - t1
    timings[INTERVALS] = time.perf_counter() - t2
    return scores[["customer_id", *PREDICTIONS, "segment"]], model.to_dict()


def child(step: str, path: str, inp: str, out: str) -> None:
    """Run one step of one path on the input file; write its output and print timings as JSON."""
    warnings.simplefilter("ignore")
    if path == "plain":  # imports are not timed
        import lifetimes.utils  # noqa: F401
    else:
        import cltv.model  # noqa: F401
        import cltv.data.rfm  # noqa: F401
    columns = RFM_INPUT if step == "model" else None  # fit + score needs the RFM columns only, on both paths
    if path == "plain":
        frame = pd.read_parquet(inp, columns=columns)  # as a user reads it
    else:
        from cltv.io import read_parquet

        frame = read_parquet(inp, columns=columns)  # as the stages read it: a column at a time
    timings: dict[str, float] = {}
    extra = None
    t0 = time.perf_counter()
    if step == "rfm":
        result = (rfm_plain if path == "plain" else rfm_ours)(frame)
        timings["calibration/holdout RFM"] = time.perf_counter() - t0
    else:
        result, extra = (model_plain if path == "plain" else model_ours)(frame, timings)
    total = time.perf_counter() - t0 - timings.get(INTERVALS, 0.0)  # fit + score, as plain lifetimes does
    result.to_parquet(out)
    if extra is not None:
        Path(out).with_suffix(".json").write_text(json.dumps(extra))
    peak = _peak_rss_gb()
    print(json.dumps({"steps": timings, "total": total, "peak_rss_gb": PEAKS.get("fit + score", peak),
                      **({"peak_with_intervals_gb": peak} if INTERVALS in timings else {})}))


# ------------------------------------------------------------------------- the parent
def run_child(step: str, path: str, inp: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.scale", "--child", step, path, str(inp), str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{step}/{path} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))) if a.size else 0.0


def compare_rfm(plain: pd.DataFrame, ours: pd.DataFrame) -> dict:
    plain = plain.reindex(ours["customer_id"])
    same = {
        "customers": len(plain) == len(ours) and not plain["frequency_cal"].isna().any(),
        "frequency": bool(np.array_equal(plain["frequency_cal"].to_numpy(), ours["frequency"].to_numpy())),
        "holdout_purchases": bool(np.array_equal(plain["frequency_holdout"].to_numpy(),
                                                 ours["holdout_purchases"].to_numpy())),
    }
    return {"identical": same, "recency_rel": _rel(ours["recency"], plain["recency_cal"]),
            "T_rel": _rel(ours["T"], plain["T_cal"]),
            "monetary_rel": _rel(ours["monetary_value"], plain["monetary_value_cal"])}


def compare_models(rfm: pd.DataFrame, plain: pd.DataFrame, plain_params: dict, ours: pd.DataFrame,
                   model_json: dict) -> dict:
    """Parameters plain vs ours; predictions of lifetimes and ours from *our* parameters."""
    from cltv.model import CLTVModel

    model = CLTVModel.from_dict(model_json)
    ours_params = {**model.purchases_.params, **model.spend_.params}
    param_rel = {k: abs(ours_params[k] - v) / abs(v) for k, v in plain_params.items()}
    rows = np.unique(np.linspace(0, len(rfm) - 1, min(len(rfm), COMPARE_ROWS)).astype(int))
    sample = rfm.iloc[rows].reset_index(drop=True)
    bgf, ggf = model.to_lifetimes()
    f, r, t, m = sample["frequency"], sample["recency"], sample["T"], sample["monetary_value"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lifetimes_same_params = {
            **{f"expected_purchases_{h}m": bgf.conditional_expected_number_of_purchases_up_to_time(
                h * WEEKS_PER_MONTH, f, r, t) for h in HORIZONS},
            "p_alive": bgf.conditional_probability_alive(f, r, t),
            "clv": ggf.customer_lifetime_value(bgf, f, r, t, m, time=CLV_MONTHS, discount_rate=DISCOUNT,
                                               freq="W").to_numpy(),
        }
    ours_sample = ours.iloc[rows].reset_index(drop=True)
    from cltv.models import tuples

    (x, _, age), _, _ = tuples.distinct(*(rfm[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")))
    return {
        "distinct_histories": int(x.size),
        "distinct_frequency_T": int(tuples.distinct(x, age)[1].max() + 1),
        "param_rel": param_rel,
        "param_rel_max": max(param_rel.values()),
        "prediction_rel_same_params": {c: _rel(ours_sample[c], lifetimes_same_params[c]) for c in PREDICTIONS},
        "prediction_rel_own_params": {c: _rel(ours[c], plain[c]) for c in PREDICTIONS},
        "segment_agreement": float((ours["segment"].astype(str).to_numpy() ==
                                    plain["segment"].astype(str).to_numpy()).mean()),
        "compared_rows": int(len(rows)),
    }


def run_size(n: int, work: Path, seed: int) -> dict:
    from cltv.data.simulate import simulate_transactions

    t0 = time.perf_counter()
    tx = simulate_transactions(n, seed=seed, **SIMULATION)
    tx.to_parquet(work / "tx.parquet")
    print(f"\nN = {n:,}: simulated {len(tx):,} transactions in {time.perf_counter() - t0:.1f} s", flush=True)
    res = {"customers": n, "transactions": len(tx)}
    del tx
    rfm_runs = {p: run_child("rfm", p, work / "tx.parquet", work / f"rfm_{p}.parquet") for p in ("plain", "ours")}
    rfm_ours_table = pd.read_parquet(work / "rfm_ours.parquet")
    res["rfm"] = {**rfm_runs, "agreement": compare_rfm(pd.read_parquet(work / "rfm_plain.parquet"), rfm_ours_table)}
    _print_step("transactions -> calibration/holdout RFM", res["rfm"])
    rfm_ours_table.to_parquet(work / "rfm.parquet")
    res["repeat_buyers"] = int((rfm_ours_table["frequency"] > 0).sum())
    model_runs = {p: run_child("model", p, work / "rfm.parquet", work / f"scores_{p}.parquet")
                  for p in ("plain", "ours")}
    res["model"] = {**model_runs, "agreement": compare_models(
        rfm_ours_table, pd.read_parquet(work / "scores_plain.parquet"),
        json.loads((work / "scores_plain.json").read_text()), pd.read_parquet(work / "scores_ours.parquet"),
        json.loads((work / "scores_ours.json").read_text()))}
    _print_step("fit + score from the RFM table", res["model"])
    return res


def run_transactions(n_tx: int, work: Path, seed: int) -> dict:
    """The RFM step alone on a log of about ``n_tx`` transactions."""
    from cltv.data.simulate import simulate_transactions

    per_customer = len(simulate_transactions(20_000, seed=seed, **SIMULATION)) / 20_000
    tx = simulate_transactions(round(n_tx / per_customer), seed=seed, **SIMULATION)
    tx.to_parquet(work / "tx_only.parquet")
    res = {"customers": int(tx["customer_id"].nunique()), "transactions": len(tx)}
    print(f"\n{len(tx):,} transactions of {res['customers']:,} customers", flush=True)
    del tx
    runs = {p: run_child("rfm", p, work / "tx_only.parquet", work / f"rfm_only_{p}.parquet") for p in ("plain", "ours")}
    res["rfm"] = {**runs, "agreement": compare_rfm(pd.read_parquet(work / "rfm_only_plain.parquet"),
                                                  pd.read_parquet(work / "rfm_only_ours.parquet"))}
    _print_step("transactions -> calibration/holdout RFM", res["rfm"])
    return res


def _print_step(title: str, r: dict) -> None:
    p, o = r["plain"], r["ours"]
    print(f"  {title}: plain {p['total']:.2f} s ({p['peak_rss_gb']:.2f} GB), ours {o['total']:.2f} s "
          f"({o['peak_rss_gb']:.2f} GB), {p['total'] / o['total']:.1f}x", flush=True)
    for path in ("plain", "ours"):
        for name, sec in r[path]["steps"].items():
            print(f"    {path:5s} {name:42s} {sec:8.3f} s")
    print("  agreement:", json.dumps(r["agreement"]), flush=True)


# ---------------------------------------------------------------------------- serving
def serving_latency(rfm: pd.DataFrame, work: Path, requests_one: int, requests_big: int, big_rows: int) -> dict:
    """Log the model fitted on the last size to a throw-away sqlite store, serve it with
    `mlflow models serve` and time sequential requests (request sent -> answer read) from one
    client on one keep-alive connection: one customer, then ``big_rows`` customers (rows of
    ``rfm``)."""
    import mlflow

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"

    from benchmarks.server import serve
    from cltv.model import CLTVModel
    from cltv.serving import log_model

    store = f"sqlite:///{work / 'mlflow.db'}"
    mlflow.set_tracking_uri(store)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment(
        "benchmark", artifact_location=(work / "mlruns").as_uri()))  # nothing lands in the repository
    fitted = json.loads((work / "scores_ours.json").read_text())
    fitted["hyperparameters"]["interval_level"] = INTERVAL_LEVEL  # served with its intervals
    CLTVModel.from_dict(fitted).save(work / "model.json")
    with warnings.catch_warnings(), mlflow.start_run():
        warnings.simplefilter("ignore")
        info = log_model(work / "model.json", rfm[["customer_id", "frequency", "recency", "T", "monetary_value"]].head(3))
    cols = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    rows = rfm[cols].to_numpy().tolist()

    def body(start: int, count: int) -> str:
        return json.dumps({"dataframe_split": {"columns": cols, "data": [rows[(start + k) % len(rows)]
                                                                         for k in range(count)]}})

    out = {}
    with serve(info.model_uri, store, work) as url:
        host, port = url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)  # one keep-alive connection
        for name, count, repeats in (("one customer", 1, requests_one),
                                     (f"{big_rows:,} customers", big_rows, requests_big)):
            lat = []
            for k in range(repeats + 3):
                b = body(k * count, count).encode()
                t0 = time.perf_counter()
                conn.request("POST", "/invocations", b, {"Content-Type": "application/json"})
                resp = conn.getresponse()
                answer = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.status != 200 or len(json.loads(answer)["predictions"]) != count:
                    raise RuntimeError(f"serving answered {resp.status}: {answer[:300]!r}")
                if k >= 3:  # the first requests warm up the server
                    lat.append(elapsed * 1000)
            out[name] = {"requests": len(lat), "p50_ms": float(np.percentile(lat, 50)),
                         "p90_ms": float(np.percentile(lat, 90)), "max_ms": float(np.max(lat))}
            print(f"  serving, {name}: {len(lat)} requests, p50 {out[name]['p50_ms']:.1f} ms, "
                  f"p90 {out[name]['p90_ms']:.1f} ms, max {out[name]['max_ms']:.1f} ms", flush=True)
        conn.close()
    return out


# ----------------------------------------------------------------------------- report
def machine() -> dict:
    import lifetimes
    import scipy

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) / 1024 ** 2 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), float("nan"))
    return {"date": dt.date.today().isoformat(), "cpu": cpu, "cores": os.cpu_count(), "memory_gb": round(mem, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "versions": {"numpy": np.__version__, "pandas": pd.__version__, "scipy": scipy.__version__,
                         "lifetimes": lifetimes.__version__}}


#: the targets of docs/benchmarks.md, printed beside the figures they concern
TARGETS = {"ratio": 50.0, "10 M GB": 1.5, "1 M intervals s": 1.0, "RFM GB": 2.5,
           "one customer": 15.0, "10,000 customers": 500.0}  # the last two: p50 of a served request, ms


def target_rows(result: dict) -> list[str]:
    """One table row per target a run's figures reach: target, figure, goal, met or not yet."""
    rows = []

    def add(what: str, figure: str, goal: str, met: bool) -> None:
        rows.append(f"| {what} | {figure} | {goal} | {'met' if met else 'not yet'} |")

    for r in result["sizes"]:
        p, o, n = r["model"]["plain"], r["model"]["ours"], f"{r['customers']:,} customers"
        ratio = p["total"] / o["total"]
        add(f"{n}: fit + score against plain `lifetimes`", f"{ratio:.1f}×", f"≥ {TARGETS['ratio']:g}×",
            ratio >= TARGETS["ratio"])
        add(f"{n}: fit + score, peak memory", f"{o['peak_rss_gb']:.2f} GB (plain {p['peak_rss_gb']:.2f} GB)",
            "≤ plain `lifetimes`", o["peak_rss_gb"] <= p["peak_rss_gb"])
        if r["customers"] >= 10_000_000:
            add(f"{n}: fit + score, peak memory", f"{o['peak_rss_gb']:.2f} GB", f"≤ {TARGETS['10 M GB']:g} GB",
                o["peak_rss_gb"] <= TARGETS["10 M GB"])
        if r["customers"] == 1_000_000 and INTERVALS in o["steps"]:
            add(f"{n}: 90 % intervals", f"{o['steps'][INTERVALS]:.2f} s", f"≤ {TARGETS['1 M intervals s']:g} s",
                o["steps"][INTERVALS] <= TARGETS["1 M intervals s"])
    for r in result["sizes"] + result.get("transactions_only", []):
        if r["transactions"] >= 10_000_000:
            gb = r["rfm"]["ours"]["peak_rss_gb"]
            add(f"{r['transactions']:,} transactions → RFM, peak memory", f"{gb:.2f} GB", f"≤ {TARGETS['RFM GB']:g} GB",
                gb <= TARGETS["RFM GB"])
    for name, s in (result.get("serving") or {}).items():
        if name in TARGETS:  # the large request's target is for 10,000 customers (--big-rows)
            add(f"served: {name}", f"p50 {s['p50_ms']:.1f} ms", f"< {TARGETS[name]:g} ms", s["p50_ms"] < TARGETS[name])
    return rows


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"Run on {m['date']}: `{result['command']}`", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; {m['os']}; Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", ""]
    lines += ["| customers | transactions | step | plain lifetimes | ours | ratio | peak RSS plain / ours |",
              "|---:|---:|---|---:|---:|---:|---:|"]
    for r in result["sizes"] + result.get("transactions_only", []):
        for key, title in (("rfm", "transactions → calibration/holdout RFM"), ("model", "fit + score from RFM")):
            if key not in r:
                continue
            p, o = r[key]["plain"], r[key]["ours"]
            lines.append(f"| {r['customers']:,} | {r['transactions']:,} | {title} | {p['total']:.2f} s | "
                         f"{o['total']:.2f} s | **{p['total'] / o['total']:.1f}×** | "
                         f"{p['peak_rss_gb']:.2f} / {o['peak_rss_gb']:.2f} GB |")
    lines += ["", "Inside *fit + score* (plain: the two fits vs the rest; ours: `fit` vs `predict`):", "",
              "| customers | part | plain lifetimes | ours | ratio |", "|---:|---|---:|---:|---:|"]
    for r in result["sizes"]:
        plain, ours = r["model"]["plain"]["steps"], r["model"]["ours"]["steps"]
        fit_plain = plain["BG/NBD fit"] + plain["Gamma-Gamma fit"]
        parts = (("fit (BG/NBD + Gamma-Gamma; ours with segment cut-offs)", fit_plain,
                  ours["fit (both models, segment cut-offs)"]),
                 ("score (expected purchases, P(alive), CLV, segments)", sum(plain.values()) - fit_plain,
                  ours["score (all predictions, CLV, segments)"]))
        for name, p_sec, o_sec in parts:
            lines.append(f"| {r['customers']:,} | {name} | {p_sec:.2f} s | {o_sec:.2f} s | {p_sec / o_sec:.1f}× |")
        if INTERVALS in ours:
            peak = r["model"]["ours"].get("peak_with_intervals_gb")
            with_peak = f" (peak {peak:.2f} GB with them)" if peak else ""
            lines.append(f"| {r['customers']:,} | {INTERVALS}, ours only | - | {ours[INTERVALS]:.2f} s{with_peak} | - |")
    lines += ["", "Plain steps one by one:", "", "| customers | step | seconds |", "|---:|---|---:|"]
    for r in result["sizes"]:
        for name, sec in r["model"]["plain"]["steps"].items():
            lines.append(f"| {r['customers']:,} | {name} | {sec:.3f} |")
    lines += ["", "Agreement (relative differences; predictions from the same parameters on up to "
              f"{COMPARE_ROWS:,} customers):", "",
              "| customers | parameters, max | predictions, same params, max | segments equal | RFM |",
              "|---:|---:|---:|---:|---|"]
    for r in result["sizes"]:
        a, ra = r["model"]["agreement"], r["rfm"]["agreement"]
        same = max(a["prediction_rel_same_params"].values())
        rfm_ok = "identical counts; recency/T/monetary max rel " + \
            f"{max(ra['recency_rel'], ra['T_rel'], ra['monetary_rel']):.1e}"
        lines.append(f"| {r['customers']:,} | {a['param_rel_max']:.1e} | {same:.1e} | "
                     f"{a['segment_agreement']:.4%} | {rfm_ok} |")
    if rows := target_rows(result):
        lines += ["", "Targets:", "", "| target | figure | goal | |", "|---|---|---|---|", *rows]
    if result.get("serving"):
        lines += ["", "Serving (`mlflow models serve`, one client, sequential requests on loopback):", "",
                  "| request | requests | p50 | p90 | max |", "|---|---:|---:|---:|---:|"]
        for name, s in result["serving"].items():
            lines.append(f"| {name} | {s['requests']} | {s['p50_ms']:.1f} ms | {s['p90_ms']:.1f} ms | "
                         f"{s['max_ms']:.1f} ms |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000], help="customers per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--requests", type=int, default=300, help="one-customer requests (0: no serving run)")
    parser.add_argument("--big-rows", type=int, default=10_000, help="customers per large request")
    parser.add_argument("--transactions", type=int, nargs="*", default=[],
                        help="also time the RFM step alone on logs of about this many transactions")
    parser.add_argument("--json", type=Path, help="write all figures here")
    parser.add_argument("--markdown", type=Path, help="write the results tables here")
    parser.add_argument("--render", type=Path, help="print the tables of a --json file of an earlier run")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return
    result = {"command": "./dev.sh bench " + " ".join(sys.argv[1:]), "machine": machine(), "sizes": []}
    print(json.dumps(result["machine"]))
    with tempfile.TemporaryDirectory(prefix="cltv-bench-") as tmp:
        work = Path(tmp)
        for n in args.sizes:
            result["sizes"].append(run_size(n, work, args.seed))
        result["transactions_only"] = [run_transactions(n, work, args.seed) for n in args.transactions]
        if args.requests:
            rfm = pd.read_parquet(work / "rfm.parquet")
            result["serving"] = serving_latency(rfm, work, args.requests, max(3, args.requests // 15), args.big_rows)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(markdown(result))
    print("\n" + markdown(result))


if __name__ == "__main__":
    main()
