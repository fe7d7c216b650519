"""Small data: an analyst's `dvc exp run` on a 5,000-customer invoice-line export, beside a plain
`lifetimes` script on the same export.

    ./dev.sh bench-small                         # 5,000 customers
    ./dev.sh bench-small --customers 20000

In a copy of the repository (the files a clone has, :func:`tests.repo.copy_repo`), the invoice
generator (``python -m cltv.data.simulate invoices``) writes the export and ``dvc add`` tracks
it. Then, timed on the wall clock:

- ``first``: ``dvc exp run`` with the retail settings (docs/configuration.md): every stage;
- ``again``: ``dvc exp run`` with one model setting changed (``model.discount_rate``): the
  stages that read it;
- per stage, inside that second run: from DVC's "Running stage" line to the next (the stage's
  process plus DVC's bookkeeping for it), so ``register`` includes logging to MLflow;
- per stage, its imports alone: ``python -c "import pipelines.<stage>"`` less ``python -c pass``;
- plain ``lifetimes``: one process (imports included) reading the CSV, dropping guests and
  cancellations, one row per customer (``summary_data_from_transaction_data``), BG/NBD +
  Gamma-Gamma, 6-month CLV at 1 %/month, quartile segments.

Targets (issue 27): a whole ``dvc exp run`` ≤ 15 s, ``register`` ≤ 3 s, a stage's imports ≤ 0.5 s.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipelines.common import PINNED_ENV
from tests.repo import RETAIL_OVERRIDES, commit, copy_repo, tool_env

STAGES = ("check", "flo_sample", "cdnow", "prepare", "evaluate", "train", "segment", "report", "register")
TARGETS = {"exp run": 15.0, "register": 3.0, "imports": 0.5}

PLAIN = """
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

df = pd.read_csv({path!r}, dtype={{"Invoice": str, "StockCode": str}})
df = df[df["Customer ID"].notna() & ~df["Invoice"].str.startswith("C") & (df["Country"] == "United Kingdom")]
df["amount"] = df["Quantity"] * df["Price"]
df["day"] = pd.to_datetime(df["InvoiceDate"]).dt.normalize()
orders = df.groupby(["Customer ID", "day"], as_index=False)["amount"].sum()
rfm = summary_data_from_transaction_data(orders, "Customer ID", "day", monetary_value_col="amount",
                                         observation_period_end="2021-06-30", freq="W")
bg = BetaGeoFitter().fit(rfm["frequency"], rfm["recency"], rfm["T"])
repeat = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
clv = gg.customer_lifetime_value(bg, rfm["frequency"], rfm["recency"], rfm["T"], rfm["monetary_value"].clip(lower=0),
                                 time=6, discount_rate=0.01, freq="W")
segments = pd.qcut(clv.rank(method="first"), 4, labels=["D", "C", "B", "A"])
print(len(rfm), "customers")
"""


def _run(repo: Path, *args: str) -> tuple[float, dict[str, float], str]:
    """Wall seconds of a command in ``repo``, the seconds from each "Running stage 'x'" line to
    the next (the last to the end), and its output."""
    env = {**tool_env(), "PYTHONUNBUFFERED": "1"}
    start = time.monotonic()
    proc = subprocess.Popen(args, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    marks, lines = [], []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Running stage '"):
            marks.append((line.split("'")[1], time.monotonic()))
    end = time.monotonic()
    if proc.wait() != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{''.join(lines)[-3000:]}")
    stages = {name: (marks[i + 1][1] if i + 1 < len(marks) else end) - at for i, (name, at) in enumerate(marks)}
    return end - start, stages, "".join(lines)


def _seconds(repo: Path, code: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=repo, env={**tool_env(), **PINNED_ENV}, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def imports(repo: Path) -> dict[str, float]:
    """Per stage: the best of three wall times of importing its module, less an empty interpreter's."""
    empty = min(_seconds(repo, "pass") for _ in range(3))
    return {s: min(_seconds(repo, f"import pipelines.{s}") for _ in range(3)) - empty for s in STAGES}


def main() -> None:
    parser = argparse.ArgumentParser(prog="./dev.sh bench-small", description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cltv-small-") as tmp:
        repo = copy_repo(Path(tmp))
        (repo / "mydata").mkdir()
        subprocess.run([sys.executable, "-m", "cltv.data.simulate", "invoices", "--customers", str(args.customers),
                        "--seed", str(args.seed), "--out", "mydata/retail.csv"], cwd=repo, env=tool_env(), check=True)
        subprocess.run(["dvc", "add", "-q", "mydata/retail.csv"], cwd=repo, env=tool_env(), check=True)
        commit(repo, "a retail export, tracked by DVC")
        settings = [a for o in RETAIL_OVERRIDES for a in ("-S", o)]
        first, _, _ = _run(repo, "dvc", "exp", "run", *settings)
        again, stages, out = _run(repo, "dvc", "exp", "run", *settings, "-S", "model.discount_rate=0.015")
        if "register: run " not in out:
            raise SystemExit(f"the second run logged nothing new:\n{out[-2000:]}")
        start = time.monotonic()
        plain = subprocess.run([sys.executable, "-c", PLAIN.format(path=str(repo / "mydata/retail.csv"))],
                               env=tool_env(), capture_output=True, text=True)
        plain_s = time.monotonic() - start
        if plain.returncode != 0:
            raise SystemExit(f"the plain lifetimes script failed:\n{plain.stderr[-2000:]}")
        imported = imports(repo)
    print(f"\n{args.customers:,} generated customers (invoice lines), {os.cpu_count()} cores; "
          f"plain lifetimes: {plain.stdout.strip()}\n")
    print("| step | seconds | target |")
    print("|---|---:|---|")
    print(f"| plain `lifetimes` script (imports included) | {plain_s:.2f} | |")
    print(f"| `dvc exp run`, every stage | {first:.2f} | ≤ {TARGETS['exp run']:g} s |")
    print(f"| `dvc exp run -S model.discount_rate=0.015` | {again:.2f} | ≤ {TARGETS['exp run']:g} s |")
    for name, seconds in stages.items():
        target = f"≤ {TARGETS['register']:g} s" if name == "register" else ""
        print(f"| &nbsp; stage `{name}` in it | {seconds:.2f} | {target} |")
    print(f"| &nbsp; DVC before the first stage | {again - sum(stages.values()):.2f} | |")
    for name, seconds in imported.items():
        print(f"| imports of `pipelines.{name}` | {seconds:.2f} | ≤ {TARGETS['imports']:g} s |")


if __name__ == "__main__":
    main()
