"""The same work on pandas and on Spark: a simulated transaction log (10 million transactions by
default) -> daily purchases -> full RFM -> fit -> scores with 90 % intervals -> Parquet.

    ./dev.sh bench-spark                              # 10 million transactions, Spark local[2]
    ./dev.sh bench-spark --transactions 200000        # a quick look

Each path runs in its own process (its peak memory is its own): pandas reads the log with
:func:`cltv.data.cdnow.load_transactions` and scores with ``CLTVModel.predict``; Spark reads it
with :mod:`cltv.engines.spark`, fits from the distinct histories (the only table the driver
receives: its rows and bytes are printed) and scores with ``mlflow.pyfunc.spark_udf`` of the
model logged to a throw-away MLflow store. Memory: the driver's peak (VmHWM of the Python
process) and, for Spark, the peak of the JVM and of the Python workers together (sampled every
0.2 s). Agreement: parameters and scores of the two paths.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
END = "2021-06-29"
SIMULATION = {"start": "2020-01-01", "end": END, "acquisition_weeks": 12.0}
TX_PER_CUSTOMER = 2.76  # the simulator's mean, CDNOW-like parameters, 78 weeks
TARGET_RATIO = 2.0  # docs/benchmarks.md: the whole Spark path at most this many times pandas' time


def _hwm_gb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024**2
    return float("nan")


class ChildMemory:
    """Peak total resident memory of this process's descendants (the JVM, Python workers)."""

    def __init__(self):
        import psutil

        self.peak, self._stop, self._me = 0.0, threading.Event(), psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        while not self._stop.wait(0.2):
            total = 0
            for p in self._me.children(recursive=True):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total / 1024**3)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def pandas_path(log: Path, out: Path) -> dict:
    from cltv.data import rfm
    from cltv.data.cdnow import load_transactions
    from cltv.model import CLTVModel

    steps, t = {}, time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        steps[name], t = now - t, now

    tx = load_transactions(log)
    lap("read the log")
    table = rfm.rfm(rfm.daily_purchases(tx), END)
    lap("daily purchases, RFM")
    model = CLTVModel().fit(table)
    lap("fit")
    scores = model.predict(table)
    lap("scores with 90 % intervals")
    scores.to_parquet(out)
    lap("write Parquet")
    return {"steps": steps, "customers": len(table), "params": {**model.purchases_.params, **model.spend_.params},
            "driver_peak_gb": _hwm_gb()}


def spark_path(log: Path, out: Path, master: str, work: Path) -> dict:
    import mlflow

    from cltv.engines import spark as engine
    from cltv.model import CLTVModel
    from cltv.serving import log_model

    steps, t = {}, time.perf_counter()

    def lap(name):
        nonlocal t
        now = time.perf_counter()
        steps[name], t = now - t, now

    with ChildMemory() as memory:
        session = engine.session(master, shuffle_partitions=8, driver_memory="4g")
        lap("start Spark")
        table = engine.rfm(engine.daily_purchases(engine.read_transactions(session, log)), END).cache()
        customers = table.count()
        lap("read the log, daily purchases, RFM")
        distinct = engine.distinct_histories(table)
        lap("distinct histories to the driver")
        model = CLTVModel().fit(distinct.drop(columns="customers"), sample_weight=distinct["customers"].to_numpy())
        lap("fit")
        mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
        mlflow.set_experiment(experiment_id=mlflow.create_experiment("bench", artifact_location=(work / "a").as_uri()))
        model.save(work / "model.json")
        with mlflow.start_run():
            uri = log_model(work / "model.json", distinct.drop(columns="customers").head(3)).model_uri
        lap("log the model")
        engine.write_parquet(engine.score(session, uri, table), out)
        lap("scores with 90 % intervals (spark_udf), write Parquet")
        session.stop()
    return {"steps": steps, "customers": customers, "params": {**model.purchases_.params, **model.spend_.params},
            "to_driver": {"rows": len(distinct), "bytes": int(distinct.memory_usage(deep=True).sum())},
            "driver_peak_gb": _hwm_gb(), "jvm_and_workers_peak_gb": memory.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=4, metavar=("PATH", "LOG", "OUT", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, log, out, work = args.child
        result = pandas_path(Path(log), Path(out)) if path == "pandas" else spark_path(Path(log), Path(out),
                                                                                        args.master, Path(work))
        print(json.dumps(result))
        return
    from cltv.data.simulate import simulate_transactions

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tx = simulate_transactions(round(args.transactions / TX_PER_CUSTOMER), seed=args.seed, **SIMULATION)
        tx.to_parquet(work / "log.parquet")
        print(f"{len(tx):,} transactions of {tx['customer_id'].nunique():,} customers", flush=True)
        results = {}
        for path in ("pandas", "spark"):
            proc = subprocess.run([sys.executable, "-m", "benchmarks.spark", "--master", args.master, "--child", path,
                                   str(work / "log.parquet"), str(work / f"{path}.parquet"), str(work)],
                                  cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
            if proc.returncode != 0:
                raise SystemExit(f"{path} failed:\n{proc.stderr[-3000:]}")
            results[path] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[path]
            print(f"\n{path}: {sum(r['steps'].values()):.1f} s, driver peak {r['driver_peak_gb']:.2f} GB"
                  + (f", JVM + Python workers peak {r['jvm_and_workers_peak_gb']:.2f} GB" if path == "spark" else ""))
            for name, sec in r["steps"].items():
                print(f"  {name:55s} {sec:8.2f} s")
        a = pd.read_parquet(work / "pandas.parquet").sort_values("customer_id").reset_index(drop=True)
        b = pd.read_parquet(work / "spark.parquet").sort_values("customer_id").reset_index(drop=True)
        rel = max(abs(results["spark"]["params"][k] / v - 1) for k, v in results["pandas"]["params"].items())
        to_driver = results["spark"]["to_driver"]
        print(f"\nto the driver: {to_driver['rows']:,} distinct histories for {results['spark']['customers']:,} "
              f"customers, {to_driver['bytes'] / 1e6:.1f} MB")
        print(f"parameters: max relative difference {rel:.1e}; customers {len(a):,} vs {len(b):,}; segments equal "
              f"{(a['segment'].astype(str) == b['segment'].astype(str)).mean():.6%}; CLV max relative difference "
              f"{np.max(np.abs(a['clv'] - b['clv']) / np.maximum(a['clv'], 1e-12)):.1e}")
        ratio = sum(results["spark"]["steps"].values()) / sum(results["pandas"]["steps"].values())
        print(f"target: Spark at most {TARGET_RATIO:g}× pandas' time: {ratio:.1f}× "
              f"({'met' if ratio <= TARGET_RATIO else 'not yet'})")


if __name__ == "__main__":
    main()
