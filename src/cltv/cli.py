"""``cltv score``: score this month's customers with a registered model, without writing Python.

    cltv score --model models:/cltv@champion --input new.csv --as-of 2024-06-30 --output scores.parquet
    cltv score --model models:/cltv@champion --input flo_export.csv --source flo --output scores.csv

The input is a transaction log (``--source transactions``, the default: CSV, ``.csv.gz`` or
Parquet, columns named by ``--customer-col``, ``--date-col``, ``--amount-col``) or a FLO snapshot
(``--source flo``). The RFM table is built with the pipeline's own rules (``prepare``: same-day
purchases merged, weeks, repeat-purchase monetary value; for a FLO snapshot the default capping
and the model's own convention), as of ``--as-of`` (a transaction log: default its last
purchase day; a snapshot: default its latest order + 2 days). The model is loaded with MLflow
(any model URI: ``models:/name@alias``, ``runs:/…``, a local folder) and scores every customer in
one call, segments by the cut-offs frozen in the model. The output (``.csv`` or ``.parquet``, written
atomically) has ``customer_id``, the RFM columns and the scores; the command prints the number of
customers per segment. Errors end with one line and exit code 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from . import io
from .data import cdnow, flo, rfm
from .errors import DataError


def rfm_table(path: Path, source: str, as_of: str | None, columns: dict, monetary_includes_first: bool) -> pd.DataFrame:
    """The RFM table of ``path`` as the pipeline's ``prepare`` stage builds it."""
    if source == "flo":
        raw = flo.load_flo(path)
        at = flo.analysis_date(raw, as_of)
        return flo.snapshot_rfm(flo.cap_outliers(raw), at, seed_compatible=not monetary_includes_first, source=str(path))
    tx = cdnow.load_transactions(path, columns["customer_col"], columns["date_col"], columns["amount_col"],
                                columns["date_format"], end=as_of)
    daily = rfm.daily_purchases(tx)
    return rfm.rfm(daily, as_of or daily["date"].max())


def score(model_uri: str, path: Path, source: str = "transactions", as_of: str | None = None,
          columns: dict | None = None) -> pd.DataFrame:
    """``customer_id``, the RFM columns and the model's scores for every customer of ``path``."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    fitted = model.unwrap_python_model().model  # the CLTVModel inside (cltv.serving.CLTVPyfunc)
    columns = {"customer_col": "customer_id", "date_col": "date", "amount_col": "amount", "date_format": None,
               **(columns or {})}
    table = rfm_table(path, source, as_of, columns, fitted.monetary_includes_first)
    scores = model.predict(table.astype({c: float for c in ("frequency", "recency", "T", "monetary_value")}))
    return pd.concat([table.reset_index(drop=True), scores.drop(columns="customer_id").reset_index(drop=True)], axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cltv", description="Customer lifetime value: batch scoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("score", help="score the customers of a transaction log or FLO snapshot")
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/cltv@champion")
    p.add_argument("--input", required=True, type=Path, help="transaction log or FLO snapshot (CSV, .csv.gz, Parquet)")
    p.add_argument("--source", choices=("transactions", "flo"), default="transactions")
    p.add_argument("--as-of", help="scoring date YYYY-MM-DD (the end of the observed period)")
    p.add_argument("--output", required=True, type=Path, help="output file, .csv or .parquet")
    p.add_argument("--customer-col", default="customer_id")
    p.add_argument("--date-col", default="date")
    p.add_argument("--amount-col", default="amount")
    p.add_argument("--date-format", default=None, help="strptime format of the dates (default: ISO)")
    args = parser.parse_args(argv)
    if args.output.suffix not in (".csv", ".parquet"):
        parser.error(f"--output {args.output}: expected a .csv or .parquet file name")
    try:
        out = score(args.model, args.input, args.source, args.as_of or None,
                    {"customer_col": args.customer_col, "date_col": args.date_col, "amount_col": args.amount_col,
                     "date_format": args.date_format})
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever failed
        message = getattr(exc, "message", None) or str(exc)
        kind = "" if isinstance(exc, (DataError, ValueError)) else f"{type(exc).__name__}: "
        print(f"error: {kind}{message.splitlines()[0] if message else ''}", file=sys.stderr)
        return 1
    (io.write_parquet if args.output.suffix == ".parquet" else io.write_csv)(args.output, out)
    counts = out["segment"].value_counts(sort=False)  # categorical: every label, best first
    print(f"cltv score: {len(out):,} customers -> {args.output}; " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
