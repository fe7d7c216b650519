"""``cltv score``: score this month's customers with a registered model, without writing Python.

    cltv score --model models:/cltv@champion --input new.csv --as-of 2024-06-30 --output scores.parquet
    cltv score --model models:/cltv@champion --input flo_export.csv --source flo --output scores.csv

The input is read by the data rules the model was trained with (``data_rules`` in the model
JSON, recorded by the ``train`` stage from ``data.*``: :class:`cltv.data.spec.DataSpec`): the
source (a transaction log: CSV, ``.csv.gz``, Parquet or Excel; or a FLO snapshot), column names,
amount or quantity x unit price, cancellations, guests, the market filter, the time zone, the
date format; for a snapshot the capping, analysis-date offset and frequency convention. Named
options change one rule each: ``--source``, ``--customer-col``, ``--date-col``, ``--amount-col``,
``--date-format`` (``ISO8601``: any ISO date), ``--cancellations drop|net``,
``--missing-customer error|drop``, ``--timezone`` (an IANA name; ``""``: the day as written),
``--filter-column`` (``""``: no filter) and ``--filter-values``. A model without recorded rules
(trained before they were recorded) reads a log with columns ``customer_id``, ``date``,
``amount`` (ISO dates) and a snapshot with the default capping. The RFM table is then built as
the ``prepare`` stage builds it (:func:`cltv.data.prepare.rfm_as_of`: same-day purchases merged,
weeks, repeat-purchase monetary value), as of ``--as-of`` (a transaction log: default its last
purchase day; a snapshot: default its latest order + the offset, 2 days). The model (any model
URI: ``models:/name@alias``, ``runs:/…``, a local folder) is downloaded as files and checked to be
a cltv package; it scores from its JSON (no code of the package runs: :mod:`cltv.serving.packaged`)
every customer in one call, segments by the cut-offs frozen in the model. The output (``.csv`` or
``.parquet``, written atomically) has ``customer_id``, the RFM columns and the scores; it never
replaces the input, a folder or a file that is not an earlier scores table. The command prints the
number of customers per segment. What a user can cause ends with one line and exit code 1.

``--engine spark`` (the ``spark`` extra and Java): Spark reads the log (a file or a folder of part
files) by the same rules (:func:`cltv.engines.spark.read_log`; not Excel), builds the RFM table and scores it with ``mlflow.pyfunc.spark_udf``; the output is a
folder of Parquet part files at ``--output`` (``.parquet``). ``--master`` picks the cluster
(default ``local[*]``). Transaction logs only.

A model with covariates (docs/covariates.md) needs ``--attributes FILE`` (CSV or Parquet, one
row per customer, id column ``--attributes-id``, default ``customer_id``) with the columns it was
trained on, unless the log itself holds them (``first_purchase_amount``, ``first_<col>``).

    cltv score --model models:/cltv@champion --input s3a://shop/tx/ --engine spark --output scores.parquet
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from . import io
from .data.prepare import rfm_as_of
from .data.spec import DataSpec
from .errors import CLTVError, DataError
from .schema import RFM_COLUMNS

#: the options that override one data rule each (argparse dest = the DataSpec field)
OVERRIDES = ("source", "customer_col", "date_col", "amount_col", "date_format", "cancellations", "missing_customer",
             "timezone", "filter_column", "filter_values")


def data_rules(fitted, overrides: dict | None = None) -> DataSpec:
    """The rules to read new data for ``fitted`` (a :class:`cltv.model.CLTVModel`): those it records
    (``data_rules_``), else today's defaults (and the snapshot convention its spend model implies),
    with ``overrides`` (DataSpec field -> value; None leaves the rule as recorded) applied."""
    recorded = getattr(fitted, "data_rules_", None)
    spec = DataSpec.from_dict(recorded) if recorded else DataSpec(seed_compatible=not fitted.monetary_includes_first)
    changes = {k: v for k, v in (overrides or {}).items() if v is not None and not (k == "source" and v == "")}
    for key in ("timezone", "filter_column", "date_format"):  # "" switches the rule off
        if changes.get(key) == "":
            changes[key] = None
    if "filter_values" in changes:
        changes["filter_values"] = tuple(changes["filter_values"])
    if "amount_col" in changes:  # a named amount column replaces quantity x unit price
        changes.update(quantity_col=None, price_col=None)
    return spec.replace(**changes)


def score(model_uri: str, path: Path, as_of: str | None = None, overrides: dict | None = None,
          attributes: tuple[str | None, str] = (None, "customer_id")) -> pd.DataFrame:
    """``customer_id``, the RFM columns and the model's scores for every customer of ``path``, read
    by the model's data rules with ``overrides`` (see :func:`data_rules`); a model with covariates
    gets its attribute columns from ``attributes`` (file, id column). The model is checked to be a
    cltv package and scored from its JSON (:mod:`cltv.serving.packaged`): no code of it runs."""
    from . import covariates, model_effects, model_season
    from .serving import packaged, pyfunc

    fitted = packaged.load(model_uri)
    names = model_effects.attribute_names(fitted)
    table = rfm_as_of(path, data_rules(fitted, overrides), as_of, attributes=bool(names))
    day = table.attrs.get("as_of", as_of)  # a log: the day T is measured to
    table = table[["customer_id", *RFM_COLUMNS, *(c for c in names if c in table.columns)]]  # derived ones kept
    wanted = [n for n in names if n not in table.columns]
    if wanted and not attributes[0]:
        raise DataError(f"{model_uri}: the model has covariates {wanted} the input does not hold; pass --attributes "
                        "FILE, a table with those columns and one row per customer")
    if wanted:
        table = covariates.join(table, covariates.read_attributes(Path(attributes[0]), attributes[1]), wanted,
                                str(attributes[0]))
    fitted = model_season.on(fitted, day) if fitted.season_ else fitted  # a season counts from that day
    scores = pyfunc.score(fitted, table)  # the server's rules and numbers
    return pd.concat([table.reset_index(drop=True), scores.drop(columns="customer_id").reset_index(drop=True)], axis=1)


def check_output(output: Path, inputs: Path | None, folder: bool) -> None:
    """Refuse (DataError) an ``--output`` that would replace what ``cltv score`` did not write:
    the input itself, a folder other than Spark part files (``folder``: the Spark engine's output),
    or a file that is not a scores table (CSV header or Parquet columns of the scores)."""
    if inputs is not None and (output.resolve() == inputs.resolve()
                               or (inputs.is_dir() and inputs.resolve() in output.resolve().parents)):
        raise DataError(f"--output {output}: that is the input; choose another file name")
    if output.is_dir():
        parts = [p.name for p in output.iterdir()]
        if not folder or not all(n.startswith(("part-", "_SUCCESS", ".part-", "._SUCCESS")) for n in parts):
            raise DataError(f"--output {output}: a folder cltv score did not write ({len(parts)} entries); "
                            "choose another name")
    elif output.exists() and not _is_scores(output):
        raise DataError(f"--output {output}: the file exists and is not a scores table written by cltv score; "
                        "choose another name or move it away")


def _is_scores(path: Path) -> bool:
    """Whether ``path`` holds a scores table (``customer_id``, ..., ``clv``, ``segment``)."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            names = pq.read_schema(path).names
        else:
            with open(path, encoding="utf-8") as f:
                names = f.readline(1 << 16).rstrip("\r\n").split(",")
    except (OSError, ValueError, ImportError):
        return False
    return {"customer_id", "clv", "segment"} <= set(names)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cltv", description="Customer lifetime value: batch scoring.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("score", help="score the customers of a transaction log or FLO snapshot")
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/cltv@champion")
    p.add_argument("--input", required=True, help="transaction log or FLO snapshot (CSV, .csv.gz, Parquet, Excel)")
    p.add_argument("--source", choices=("transactions", "flo", ""), help='default (or ""): the model\'s (else transactions)')
    p.add_argument("--as-of", help="scoring date YYYY-MM-DD (the end of the observed period)")
    p.add_argument("--output", required=True, type=Path, help="output file, .csv or .parquet")
    p.add_argument("--attributes", help="customer attributes (CSV or Parquet, one row per customer) for a model "
                   "with covariates: the columns it was trained on")
    p.add_argument("--attributes-id", default="customer_id", help="the attributes' customer id column")
    rules = p.add_argument_group("data rules", "each changes one rule the model was trained with (its data_rules; "
                                 "a model without them: customer_id, date, amount, ISO dates)")
    rules.add_argument("--customer-col")
    rules.add_argument("--date-col")
    rules.add_argument("--amount-col", help="the amount column (instead of quantity x unit price)")
    rules.add_argument("--date-format", help="strptime format of the dates; ISO8601: any ISO date or timestamp")
    rules.add_argument("--cancellations", choices=("drop", "net"), help="cancellations and returns: dropped or netted")
    rules.add_argument("--missing-customer", choices=("error", "drop"), help="rows without a customer id")
    rules.add_argument("--timezone", help='IANA zone of the local day, e.g. Europe/London; "": the day as written')
    rules.add_argument("--filter-column", help='keep only rows whose column is one of --filter-values; "": no filter')
    rules.add_argument("--filter-values", nargs="+", metavar="VALUE")
    p.add_argument("--engine", choices=("pandas", "spark"), default="pandas",
                   help="spark: read, build the RFM table and score in Spark; write Parquet part files")
    p.add_argument("--master", default="local[*]", help="the Spark master of --engine spark")
    args = parser.parse_args(argv)
    if args.output.suffix not in (".csv", ".parquet"):
        parser.error(f"--output {args.output}: expected a .csv or .parquet file name")
    remote = "://" in args.input  # a URI (e.g. s3a://): Spark's to read
    if not remote and not Path(args.input).exists():  # before the model is loaded
        return _fail(DataError(f"{args.input}: file not found"))
    try:
        check_output(args.output, None if remote else Path(args.input), folder=args.engine == "spark")
    except DataError as exc:
        return _fail(exc)
    if args.engine == "spark":
        if args.source == "flo" or args.output.suffix != ".parquet":
            parser.error("--engine spark scores transaction logs into Parquet part files: use --source transactions "
                         "and an --output ending in .parquet")
        return _score_spark(args)
    try:
        out = score(args.model, args.input, args.as_of or None, {k: getattr(args, k) for k in OVERRIDES},
                    (args.attributes, args.attributes_id))
        (io.write_parquet if args.output.suffix == ".parquet" else io.write_csv)(args.output, out)
    except _user_errors() as exc:
        return _fail(exc)
    except MemoryError:
        return _fail(DataError(f"{args.input}: out of memory while reading and scoring it; nothing was written "
                               "(free memory, or use --engine spark)"))
    counts = out["segment"].value_counts(sort=False)  # categorical: every label, best first
    print(f"cltv score: {len(out):,} customers -> {args.output}; " + ", ".join(f"{k}={v:,}" for k, v in counts.items()))
    return 0


def _user_errors(spark: bool = False) -> tuple[type[BaseException], ...]:
    """What a user can cause (bad data or options, a model URI MLflow cannot load, a file that
    cannot be read or written; with Spark, what Spark refuses): one line. Anything else is a bug
    and keeps its traceback."""
    from mlflow.exceptions import MlflowException

    errors: tuple[type[BaseException], ...] = (CLTVError, MlflowException, OSError)
    if spark:
        try:
            from pyspark.errors import PySparkException
        except ImportError:  # the 'spark' extra is not installed: that error is the user's to fix
            return (*errors, ImportError)
        errors += (PySparkException,)
    return errors


def _fail(exc: Exception) -> int:
    """Print ``exc`` as one line ("error: ..."); exit code 1."""
    message = getattr(exc, "message", None) or str(exc)
    kind = "" if isinstance(exc, CLTVError) else f"{type(exc).__name__}: "
    print(f"error: {kind}{message.splitlines()[0] if message else ''}", file=sys.stderr)
    return 1


def _score_spark(args) -> int:
    """``cltv score --engine spark``: see the module docstring."""
    try:
        from . import model_effects
        from .data.prepare import FIRST_AMOUNT
        from .engines import spark as engine
        from .engines import spark_attributes
        from .serving import packaged

        fitted = packaged.load(args.model)  # checked before spark_udf loads its code
        spec = data_rules(fitted, {k: getattr(args, k) for k in OVERRIDES})
        if spec.source == "flo":
            raise DataError("--engine spark scores transaction logs; this model was trained on a FLO snapshot: use "
                            "the pandas engine")
        names = model_effects.attribute_names(fitted)
        wanted = [n for n in names if n != FIRST_AMOUNT and n not in {f"first_{c}" for c in spec.first_purchase}]
        if wanted and not args.attributes:
            raise DataError(f"{args.model}: the model has covariates {wanted} the input does not hold; pass "
                            "--attributes FILE, a table with those columns and one row per customer")
        session = engine.session(args.master)
        tx, _ = engine.read_log(session, args.input, spec, end=args.as_of)
        daily = engine.daily_purchases(tx)
        as_of = args.as_of or str(daily.agg({"date": "max"}).first()[0])
        table = engine.rfm(daily, as_of)
        if names:  # the log's own attributes and the table's, joined in Spark
            customers = spark_attributes.first_purchase(tx, daily, table)
            if wanted:
                customers = spark_attributes.attach(customers, spark_attributes.read_attributes(
                    session, args.attributes, args.attributes_id), str(args.attributes))
            customers = spark_attributes.complete(customers.select("customer_id", *names), names, "the attributes")
            table = table.join(customers, "customer_id", "left")
        scores = engine.score(session, args.model, table, names, as_of if fitted.season_ else None)
        engine.write_parquet(scores, args.output)
        counts = pd.read_parquet(args.output, columns=["segment"])["segment"].value_counts()
    except _user_errors(spark=True) as exc:
        return _fail(exc)
    print(f"cltv score: {int(counts.sum()):,} customers -> {args.output} (Spark, as of {as_of}); "
          + ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
