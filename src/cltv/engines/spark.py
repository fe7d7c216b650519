"""The RFM table, the fit and the scores on Apache Spark, for logs larger than one machine.

The same rules as the pandas path (:mod:`cltv.data.transactions`, :mod:`cltv.data.rfm`,
:mod:`cltv.model`), computed where the data are: Spark reads the log (CSV or Parquet, a file or a
folder of part files; invoice lines, returns, guests, time zones as configured), merges each
customer's purchases of one day, and builds the calibration/holdout and full RFM tables. Only
the *distinct* histories (frequency, recency, T, monetary value; with covariates, and the
customer's attributes: :mod:`cltv.engines.spark_attributes`) reach the driver, with their
customer counts; the fit there is :class:`cltv.model.CLTVModel`'s on those rows weighted by their
counts, the fit on every customer. Scores are a ``mlflow.pyfunc.spark_udf`` of the packaged model
over the RFM table, batch by batch.

Times in weeks (days / 7), as everywhere in cltv. Needs the ``spark`` extra (``pip install
.[spark]``: pyspark) and Java 17 (``apt-get install openjdk-17-jre-headless``).
"""
from __future__ import annotations

import os
import shutil
import sys
import warnings
from pathlib import Path

import pandas as pd

from ..errors import EngineError
from ..schema import DAYS_PER_WEEK, RFM_COLUMNS

from .spark_read import read_log, read_transactions


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
        raise EngineError(problem)
    # pyspark 4.3's notice on pandas 3: cltv keeps the boundary to Arrow batches and small tables,
    # which tests/test_spark.py checks against the pandas path
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (SparkSession.builder.master(master).appName("cltv")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.sql.legacy.parquet.nanosAsLong", "true")  # pandas' nanosecond times: read as epochs
               .config("spark.sql.execution.arrow.pyspark.enabled", "true")
               .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
               .config("spark.driver.memory", driver_memory)
               .config("spark.ui.enabled", "false"))
    try:
        spark = builder.getOrCreate()
        spark.range(1).count()  # a master that cannot be reached fails here, before any work
    except Exception as exc:  # noqa: BLE001 - the JVM's errors at start-up: one line naming the settings
        java = getattr(exc, "java_exception", None)  # py4j: the JVM's own message says more than the call's
        text = str(java.toString()) if java is not None else str(exc)
        first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise EngineError(f"Spark did not start with engine.master={master!r}, engine.driver_memory={driver_memory!r}: "
                          f"{first[:300]} (is the master reachable, is the memory there?)") from exc
    return spark


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


def repeat_days(daily, end: str) -> pd.DataFrame:
    """:func:`cltv.season.repeat_days` of a Spark daily table up to ``end``, computed in Spark:
    per first purchase day and day the number of repeat purchases (at most one row per pair of
    days: two years of days give at most 267,000 rows, whatever the number of customers)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    epoch = F.to_date(F.lit("1970-01-01"))
    days = daily.filter(F.col("date") <= F.to_date(F.lit(str(end)))).select(
        "customer_id", F.datediff(F.to_date("date"), epoch).cast("long").alias("day"))
    days = days.withColumn("first_day", F.min("day").over(Window.partitionBy("customer_id")))
    table = (days.filter(F.col("day") > F.col("first_day")).groupBy("first_day", "day")
             .agg(F.count("*").cast("long").alias("purchases")).toPandas())
    return table.sort_values(["first_day", "day"], kind="stable").reset_index(drop=True)


def fit(model, rfm_frame, end: str | None = None, acquired_after=None, customers=None,
        source: str = "data/customers.parquet", daily=None):
    """``model`` (an unfitted :class:`cltv.model.CLTVModel`) fitted on a Spark RFM table: the
    fit on every customer, computed from :func:`distinct_histories` weighted by their counts
    (with covariates: the distinct (history, covariate) rows of the RFM table joined to
    ``customers``, :func:`cltv.engines.spark_attributes.distinct_rows`; ``source`` names it);
    with ``acquired_after`` only on the customers first seen after its cut-off
    (:func:`cltv.data.cohort.fitted`, the table measured to ``end``). A model with a season also
    reads :func:`repeat_days` of the Spark ``daily`` table (customer_id, date)."""
    from ..covariates import names as columns_read
    from ..data import cohort
    from .spark_attributes import distinct_rows

    names = columns_read(model.covariates or {})
    table = distinct_rows(rfm_frame, customers, names, source) if names else distinct_histories(rfm_frame)
    weight = table["customers"].to_numpy()
    fitted = None if acquired_after is None else cohort.fitted(table, end, acquired_after, weights=weight)
    days = None if daily is None else repeat_days(daily, end)
    return model.fit(table[[*RFM_COLUMNS, *names]], sample_weight=weight, cohort=fitted, purchase_days=days, end=end)


def score(spark, model_uri: str, rfm_frame, attributes: list[str] = (), scoring_date: str | None = None):
    """``rfm_frame`` (Spark: ``customer_id``, :data:`RFM_COLUMNS` and the model's covariate
    ``attributes``) with the packaged model's scores, by ``mlflow.pyfunc.spark_udf`` (the model
    scores each Arrow batch in the Python workers; a customer's scores and intervals do not
    depend on the batch). ``scoring_date``: the day a model with a season reads the histories at
    (sent with every batch; default its training end). The scores keep ``rfm_frame``'s partitions,
    each sorted by customer id (a frame sorted by ``orderBy("customer_id")`` stays sorted)."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType

    model = mlflow.pyfunc.load_model(model_uri)
    outputs = model.metadata.get_output_schema()
    fields = [(c.name, c.type.to_spark()) for c in outputs.inputs if c.name != "customer_id"]
    # marked nondeterministic so that Spark keeps the sort below it (it drops a sort under a
    # deterministic projection that is sorted again)
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, env_manager="local",
                                  result_type=StructType([StructField(n, t) for n, t in fields])).asNondeterministic()
    dated = [] if scoring_date is None else [F.lit(str(scoring_date)).alias("scoring_date")]
    columns = ["customer_id", *RFM_COLUMNS, *attributes, *(["scoring_date"] if dated else [])]
    inputs = rfm_frame.select("customer_id", *(F.col(c).cast("double").alias(c) for c in RFM_COLUMNS), *attributes,
                              *dated)
    # the intervals draw once per (frequency, T) in an Arrow batch: rows sorted by it within each
    # partition put each one in about one batch, instead of in nearly every batch
    inputs = inputs.sortWithinPartitions("frequency", "T")
    # one struct column: the model gets it as a named DataFrame
    scored = inputs.withColumn("_scores", udf(F.struct(*[F.col(c) for c in columns])))
    return (scored.select("customer_id", *RFM_COLUMNS, *(F.col(f"_scores.{n}").alias(n) for n, _ in fields))
            .sortWithinPartitions("customer_id"))


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
           "distinct_histories", "repeat_days", "fit", "score", "write_parquet"]
