"""The RFM table, the fit and the scores on Apache Spark, for logs larger than one machine.

The same rules as the pandas path (:mod:`cltv.data.transactions`, :mod:`cltv.data.rfm`,
:mod:`cltv.model`), computed where the data are: Spark reads the log (CSV or Parquet, a file or a
folder of part files; invoice lines, returns, guests, time zones as configured), merges each
customer's purchases of one day, and builds the calibration/holdout and full RFM tables. Only
the *distinct* histories (frequency, recency, T, monetary value) reach the driver, with their
customer counts; the fit there is :class:`cltv.model.CLTVModel`'s on those rows weighted by their
counts, the fit on every customer. Scores are a ``mlflow.pyfunc.spark_udf`` of the packaged model
over the RFM table, batch by batch.

Times in weeks (days / 7), as everywhere in cltv. Needs the ``spark`` extra (``pip install
.[spark]``: pyspark) and Java 17 (``apt-get install openjdk-17-jre-headless``).
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..schema import DAYS_PER_WEEK, RFM_COLUMNS

TIDY = ("customer_id", "date", "amount")


def java_missing() -> str | None:
    """None when a Java runtime is on the PATH (or JAVA_HOME), else how to install one."""
    if os.environ.get("JAVA_HOME") and Path(os.environ["JAVA_HOME"], "bin", "java").exists():
        return None
    if shutil.which("java"):
        return None
    return ("Spark needs a Java runtime (17 or later) and none was found: install one, e.g. "
            "`apt-get install openjdk-17-jre-headless`, or set JAVA_HOME")


def session(master: str = "local[*]", shuffle_partitions: int = 8, driver_memory: str = "2g"):
    """A Spark session for cltv: UTC session time zone (days are calendar days as written),
    Arrow for the pandas boundary, the UI off; Python workers run this interpreter."""
    from pyspark.sql import SparkSession

    if problem := java_missing():
        raise RuntimeError(problem)
    # pyspark 4.3's notice on pandas 3: cltv keeps the boundary to Arrow batches and small tables,
    # which tests/test_spark.py checks against the pandas path
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master(master).appName("cltv")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.legacy.parquet.nanosAsLong", "true")  # pandas' nanosecond times: read as epochs
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
            .config("spark.driver.memory", driver_memory)
            .config("spark.ui.enabled", "false")
            .getOrCreate())


def _examples(frame, column: str, limit: int = 5) -> str:
    values = [r[0] for r in frame.select(column).limit(limit).collect()]
    return ", ".join(repr(v) for v in values)


def read_transactions(spark, path: str | Path, customer_col: str = "customer_id", date_col: str = "date",
                      amount_col: str = "amount", date_format: str | None = None, end: str | None = None):
    """A tidy log (customer, date, amount) as :func:`read_log` reads it: the transactions alone."""
    from ..data.transactions import LogSpec

    spec = LogSpec(customer_col=customer_col, date_col=date_col, amount_col=amount_col, date_format=date_format)
    return read_log(spark, path, spec, end)[0]


def read_log(spark, path: str | Path, spec, end: str | None = None):
    """``(transactions, quality)``: the log at ``path`` (CSV with a header, or Parquet; a file or a
    folder of part files) read by the rules of :func:`cltv.data.transactions.load_log` for the
    :class:`~cltv.data.transactions.LogSpec` ``spec`` (filter, ids as text, guests, the local day
    with time zones, quantity x unit price, cancellations and returns dropped, non-positive
    amounts, the window), as a Spark DataFrame ``customer_id`` (text), ``date`` (the calendar
    day), ``amount`` (double), and the :class:`~cltv.data.transactions.Quality` account. Not in
    Spark: Excel workbooks. A row without a readable id (unless guests are dropped), day or
    number fails with :class:`DataError` naming the file, the column and example values (Spark
    knows no line numbers)."""
    from pyspark.sql import functions as F

    from ..data.transactions import Quality

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if spec.sheets:
        raise DataError(f"{path}: the Spark reader does not read Excel sheets; use the pandas engine")
    parquet = path.is_dir() and any(path.rglob("*.parquet")) or ".parquet" in "".join(path.suffixes).lower()
    if parquet:
        raw = spark.read.parquet(str(path))
    else:
        raw = spark.read.option("header", True).option("inferSchema", False).option("encoding", "UTF-8").csv(str(path))
    missing = [c for c in spec.columns() if c not in raw.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; found {raw.columns[:12]} (set the data.*_col keys)")
    types = dict(raw.dtypes)
    ident = F.col(spec.customer_col)
    if types[spec.customer_col] in ("double", "float"):
        ident = F.when(ident == F.floor(ident), ident.cast("long").cast("string")).otherwise(ident.cast("string"))
    ident = F.trim(ident.cast("string"))
    number = lambda c: F.col(c).try_cast("double")  # noqa: E731 - try_*: a bad value becomes null, ANSI or not
    quantity = number(spec.amount_col or spec.quantity_col)
    amount = quantity if spec.amount_col else quantity * number(spec.price_col)
    cancel = F.lit(False)
    if spec.invoice_col and spec.cancel_prefix:
        cancel = cancel | F.trim(F.col(spec.invoice_col).cast("string")).startswith(spec.cancel_prefix)
    if spec.cancel_negative:
        cancel = cancel | (quantity < 0) | (amount < 0)
    keep = F.lit(True)
    if spec.filter_column:
        keep = F.trim(F.col(spec.filter_column).cast("string")).isin([str(v) for v in spec.filter_values])
    tx = raw.select(F.when(ident != "", ident).alias("customer_id"), _local_day(raw, spec, path).alias("date"),
                    amount.alias("amount"), cancel.alias("_cancel"), keep.alias("_keep"),
                    F.monotonically_increasing_id().alias("_row"),  # input order: the file's, in one file
                    F.col(spec.date_col).cast("string").alias("_date"),
                    *(F.col(c).cast("string").alias(f"_{i}") for i, c in enumerate(
                        [spec.amount_col] if spec.amount_col else [spec.quantity_col, spec.price_col])))
    rows = tx.filter("_keep")
    guest = F.col("customer_id").isNull()
    bad_number = F.col("amount").isNull() | F.isnan("amount") | F.col("amount").isin(float("inf"), float("-inf"))
    late = F.col("date") > F.to_date(F.lit(str(end))) if end is not None else F.lit(False)
    counted = lambda condition: F.sum(F.when(condition, 1).otherwise(0))  # noqa: E731
    kept = F.col("_keep")
    c = tx.select(F.count("*").alias("read"), counted(kept).alias("kept"), counted(kept & guest).alias("guest"),
                  counted(kept & ~guest & F.col("date").isNull()).alias("bad_date"),
                  counted(kept & ~guest & bad_number).alias("bad_number"), counted(kept & ~guest & late).alias("late"),
                  counted(kept & ~guest & ~late & F.col("_cancel")).alias("cancel"),
                  counted(kept & ~guest & ~late & ~F.col("_cancel") & (F.col("amount") <= 0)).alias("nonpositive"),
                  ).first()  # one pass over the log for the whole account
    read = c["read"]
    if c["guest"] and spec.missing_customer == "error":
        raise DataError(f"{path}: column {spec.customer_col!r}: missing customer id in {c['guest']:,} row(s); expected "
                        "an id on every row (guest purchases: set data.missing_customer=drop)")
    for count, column, problem, shown, condition in (
            (c["bad_date"], spec.date_col, "unparseable or missing date", "_date", F.col("date").isNull()),
            (c["bad_number"], spec.amount_col or f"{spec.quantity_col} or {spec.price_col}", "non-numeric or missing "
             "amount", "_0", bad_number)):
        if count:
            examples = _examples(rows.filter(~guest & condition), shown)
            raise DataError(f"{path}: column {column!r}: {problem} in {count:,} row(s), e.g. {examples}; expected a "
                            "value on every row (Spark reads no line numbers: search the file for these values)")
    out = rows.filter(~guest & ~late & ~F.col("_cancel"))
    quality = Quality(rows_read=read)
    nonpositive = c["nonpositive"]
    if spec.cancellations == "net" and c["cancel"]:
        out = _net(out, rows.filter(~guest & ~late & F.col("_cancel"))).cache()
        nonpositive = out.filter(F.col("amount") <= 0).count()
        quality.netted_cancellations = c["cancel"]
    if spec.nonpositive == "drop":
        out = out.filter(F.col("amount") > 0)
    quality.dropped.update(filtered=read - c["kept"], missing_customer=c["guest"], outside_window=c["late"],
                           cancellation=c["cancel"] - quality.netted_cancellations,
                           nonpositive_amount=nonpositive if spec.nonpositive == "drop" else 0)
    quality.nonpositive_kept = 0 if spec.nonpositive == "drop" else nonpositive
    quality.rows_kept = read - sum(quality.dropped.values())
    return out.select(*TIDY), quality


def _net(buys, cancellations):
    """``buys`` with each cancellation's amount subtracted from the same customer's latest
    purchase row on or before its day (the last such row in input order; cancellations without
    one are dropped): :func:`cltv.data.transactions.load_log`'s ``net``. One pass per customer:
    purchases and cancellations in (day, purchases first, input order), each cancellation takes
    the last purchase row seen."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    both = buys.select("customer_id", "date", "_row", F.lit(0).alias("_is_cancel"), F.col("_row").alias("_buy")).unionByName(
        cancellations.select("customer_id", "date", "_row", F.lit(1).alias("_is_cancel"), F.lit(None).cast("long").alias("_buy"),
                             (-F.abs("amount")).alias("_change")), allowMissingColumns=True)
    seen = Window.partitionBy("customer_id").orderBy("date", "_is_cancel", "_row").rowsBetween(Window.unboundedPreceding, 0)
    matched = (both.withColumn("_target", F.last("_buy", ignorenulls=True).over(seen))
               .filter((F.col("_is_cancel") == 1) & F.col("_target").isNotNull())
               .groupBy("_target").agg(F.sum("_change").alias("_change")))
    return (buys.join(matched, buys["_row"] == matched["_target"], "left")
            .withColumn("amount", F.col("amount") + F.coalesce(F.col("_change"), F.lit(0.0)))
            .drop("_target", "_change"))


def _local_day(raw, spec, path: Path):
    """The purchase day of each row (rule 4 of :mod:`cltv.data.transactions`): a time without an
    offset is local; one with an offset is converted to ``spec.timezone`` when set, else taken at
    its own offset; epoch numbers by their size."""
    from pyspark.sql import functions as F

    kind = dict(raw.dtypes)[spec.date_col]
    if kind in ("bigint", "int", "double"):  # epoch numbers (pandas' nanosecond times)
        return F.to_date(_epoch(raw, spec.date_col, path))
    if kind != "string":  # date or timestamp columns
        return F.to_date(F.col(spec.date_col))
    text = F.trim(F.col(spec.date_col))
    offset = r"(Z|[+-]\d{2}:?\d{2})$"
    parse = (lambda t: F.try_to_timestamp(t, F.lit(_spark_format(spec.date_format)))) if spec.date_format else F.try_to_timestamp
    as_written = F.to_date(parse(F.regexp_replace(text, offset, "")))
    if spec.timezone is None:
        return as_written
    return F.when(text.rlike(offset), F.to_date(F.from_utc_timestamp(parse(text), spec.timezone))).otherwise(as_written)


def _epoch(raw, column: str, path: Path):
    """Epoch numbers as timestamps, in the unit their size implies (seconds to nanoseconds), the
    rule of :func:`cltv.data.transactions.local_days`."""
    from pyspark.sql import functions as F

    from ..data.transactions import EPOCH_UNITS

    size = raw.select(F.percentile_approx(F.abs(F.col(column)), 0.5)).first()[0]
    unit = next((u for lo, hi, u in EPOCH_UNITS if size is not None and lo <= size < hi), None)
    if unit is None:
        raise DataError(f"{path}: column {column!r}: numbers that are not epoch times (median {size}); expected dates")
    per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    return F.timestamp_micros((F.col(column).cast("decimal(38,0)") * 10**6 / per_second).cast("long"))


def _spark_format(python_format: str) -> str:
    """A strftime format (``%Y-%m-%d``) as Spark's datetime pattern (``yyyy-MM-dd``)."""
    table = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss", "%y": "yy", "%b": "MMM"}
    return re.sub(r"%[YmdHMSyb]", lambda m: table[m.group(0)], python_format)


def daily_purchases(tx):
    """One row per customer and day, amounts summed (:func:`cltv.data.rfm.daily_purchases`)."""
    from pyspark.sql import functions as F

    return tx.groupBy("customer_id", "date").agg(F.sum("amount").alias("amount"))


def rfm(daily, end: str):
    """RFM (:data:`cltv.schema.RFM_COLUMNS` and ``customer_id``) of every customer whose first
    purchase day is on or before ``end``, from those days (:func:`cltv.data.rfm.rfm`'s rules)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    end_day = F.to_date(F.lit(str(end)))
    days = daily.filter(F.col("date") <= end_day)
    first = Window.partitionBy("customer_id")
    days = days.withColumn("first", F.min("date").over(first))
    repeat = (F.col("date") > F.col("first")) & (F.col("amount") > 0)  # the first day is not a repeat purchase
    out = days.groupBy("customer_id").agg(
        (F.count("*") - 1).cast("long").alias("frequency"),
        (F.datediff(F.max("date"), F.min("date")) / DAYS_PER_WEEK).alias("recency"),
        (F.datediff(end_day, F.min("date")) / DAYS_PER_WEEK).alias("T"),
        F.sum(F.when(repeat, 1).otherwise(0)).alias("_counted"),
        F.sum(F.when(repeat, F.col("amount")).otherwise(0.0)).alias("_spend"))
    monetary = F.when(F.col("_counted") > 0, F.col("_spend") / F.col("_counted")).otherwise(F.lit(0.0))
    return out.select("customer_id", "frequency", "recency", "T", monetary.alias("monetary_value"))


def calibration_holdout(daily, calibration_end: str, observation_end: str):
    """Calibration RFM plus ``holdout_purchases``, ``holdout_spend`` and ``holdout_weeks``
    (:func:`cltv.data.rfm.calibration_holdout`)."""
    from pyspark.sql import functions as F

    cal, obs = F.to_date(F.lit(str(calibration_end))), F.to_date(F.lit(str(observation_end)))
    hold = daily.filter((F.col("date") > cal) & (F.col("date") <= obs)).groupBy("customer_id").agg(
        F.count("*").cast("long").alias("holdout_purchases"), F.sum("amount").alias("holdout_spend"))
    weeks = (pd.Timestamp(observation_end) - pd.Timestamp(calibration_end)).days / DAYS_PER_WEEK
    return (rfm(daily, calibration_end).join(hold, "customer_id", "left")
            .fillna({"holdout_purchases": 0, "holdout_spend": 0.0})
            .withColumn("holdout_weeks", F.lit(float(weeks))))


def distinct_histories(rfm_frame) -> pd.DataFrame:
    """The distinct (frequency, recency, T, monetary_value) rows of a Spark RFM table with the
    number of customers of each (``customers``), computed in Spark: all the fit needs, and the
    only table that reaches the driver (about half the customers of CDNOW: everyone without a
    repeat purchase and one age shares one row)."""
    from pyspark.sql import functions as F

    columns = list(RFM_COLUMNS)
    table = rfm_frame.groupBy(*columns).agg(F.count("*").alias("customers")).toPandas()
    return table.sort_values(columns, kind="stable").reset_index(drop=True)


def fit(model, rfm_frame):
    """``model`` (an unfitted :class:`cltv.model.CLTVModel`) fitted on a Spark RFM table: the
    fit on every customer, computed from :func:`distinct_histories` weighted by their counts."""
    table = distinct_histories(rfm_frame)
    return model.fit(table[list(RFM_COLUMNS)], sample_weight=table["customers"].to_numpy())


def score(spark, model_uri: str, rfm_frame):
    """``rfm_frame`` (Spark: ``customer_id`` and :data:`RFM_COLUMNS`) with the packaged model's
    scores, by ``mlflow.pyfunc.spark_udf`` (the model scores each Arrow batch in the Python
    workers; a customer's scores and intervals do not depend on the batch)."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    model = mlflow.pyfunc.load_model(model_uri)
    outputs = model.metadata.get_output_schema()
    fields = [(c.name, c.type.to_spark()) for c in outputs.inputs if c.name != "customer_id"]
    from pyspark.sql.types import StructField, StructType

    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local",
                                  result_type=StructType([StructField(n, t) for n, t in fields]))
    inputs = rfm_frame.select("customer_id", *(F.col(c).cast("double").alias(c) for c in RFM_COLUMNS))
    scored = inputs.withColumn("_scores", udf(*[F.col(c) for c in ["customer_id", *RFM_COLUMNS]]))
    return scored.select("customer_id", *RFM_COLUMNS, *(F.col(f"_scores.{n}").alias(n) for n, _ in fields))


def write_parquet(frame, path: str | Path, partitions: int | None = None) -> None:
    """``frame`` as Parquet part files in the folder ``path`` (replaced as a whole: written to a
    sibling folder, then renamed, so a killed job leaves the previous result). Dates are written
    as timestamps without time zone (pandas reads them as ``datetime64``). ``partitions``:
    repartition first (else the frame's own partitions, e.g. the ranges of an ``orderBy``, whose
    files pandas reads back in order)."""
    from pyspark.sql import functions as F

    from ..io import atomic

    dates = [name for name, kind in frame.dtypes if kind == "date"]
    frame = frame.select(*(F.col(c).cast("timestamp_ntz").alias(c) if c in dates else F.col(c) for c in frame.columns))
    frame = frame.repartition(partitions) if partitions else frame
    atomic(path, lambda tmp: frame.write.parquet(str(tmp)), folder=True)


__all__ = ["java_missing", "session", "read_log", "read_transactions", "daily_purchases", "rfm", "calibration_holdout",
           "distinct_histories", "fit", "score", "write_parquet"]
