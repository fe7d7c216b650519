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

``--engine spark`` (the ``spark`` extra and Java): Spark reads the log (a file or a folder of part
files), builds the RFM table and scores it with ``mlflow.pyfunc.spark_udf``; the output is a
folder of Parquet part files at ``--output`` (``.parquet``). ``--master`` picks the cluster
(default ``local[*]``). Transaction logs only.

    cltv score --model models:/cltv@champion --input s3a://shop/tx/ --engine spark --output scores.parquet
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
    p.add_argument("--engine", choices=("pandas", "spark"), default="pandas",
                   help="spark: read, build the RFM table and score in Spark; write Parquet part files")
    p.add_argument("--master", default="local[*]", help="the Spark master of --engine spark")
    args = parser.parse_args(argv)
    if args.output.suffix not in (".csv", ".parquet"):
        parser.error(f"--output {args.output}: expected a .csv or .parquet file name")
    if args.engine == "spark":
        if args.source != "transactions" or args.output.suffix != ".parquet":
            parser.error("--engine spark scores transaction logs into Parquet part files: use --source transactions "
                         "and an --output ending in .parquet")
        return _score_spark(args)
    try:
        out = score(args.model, args.input, args.source, args.as_of or None,
                    {"customer_col": args.customer_col, "date_col": args.date_col, "amount_col": args.amount_col,
                     "date_format": args.date_format})
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever failed
        return _fail(exc)
    (io.write_parquet if args.output.suffix == ".parquet" else io.write_csv)(args.output, out)
    counts = out["segment"].value_counts(sort=False)  # categorical: every label, best first
    print(f"cltv score: {len(out):,} customers -> {args.output}; " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    return 0


def _fail(exc: Exception) -> int:
    """Print ``exc`` as one line ("error: ..."); exit code 1."""
    message = getattr(exc, "message", None) or str(exc)
    kind = "" if isinstance(exc, (DataError, ValueError)) else f"{type(exc).__name__}: "
    print(f"error: {kind}{message.splitlines()[0] if message else ''}", file=sys.stderr)
    return 1


def _score_spark(args) -> int:
    """``cltv score --engine spark``: see the module docstring."""
    try:
        from .engines import spark as engine

        session = engine.session(args.master)
        tx = engine.read_transactions(session, args.input, args.customer_col, args.date_col, args.amount_col,
                                      args.date_format, end=args.as_of)
        daily = engine.daily_purchases(tx)
        as_of = args.as_of or str(daily.agg({"date": "max"}).first()[0])
        scores = engine.score(session, args.model, engine.rfm(daily, as_of))
        engine.write_parquet(scores, args.output)
        counts = pd.read_parquet(args.output, columns=["segment"])["segment"].value_counts()
    except Exception as exc:  # noqa: BLE001 - one line for the user, whatever failed
        return _fail(exc)
    print(f"cltv score: {int(counts.sum()):,} customers -> {args.output} (Spark, as of {as_of}); "
          + ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
