"""Customer attributes for covariates on Spark: the log's own (:func:`first_purchase`), an
attributes table (:func:`read_attributes`, :func:`attach`), and the distinct (history, covariate)
rows that reach the driver for the fit (:func:`distinct_rows`). The same rules as the pandas path
(:func:`cltv.data.prepare.first_purchase`, :mod:`cltv.covariates`); every check runs in Spark
and only counts and up to five example ids come back.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..data.prepare import FIRST_AMOUNT
from ..errors import DataError
from ..schema import RFM_COLUMNS


def first_purchase(tx, daily, customers):
    """``customers`` (a Spark frame with ``customer_id``) with ``first_purchase_amount`` (the spend
    of the first purchase day) and each ``first_<col>`` column of ``tx`` (the value on the
    customer's earliest row, by day and then input order ``_row``)."""
    from pyspark.sql import functions as F

    out = customers.select("customer_id").join(
        daily.groupBy("customer_id").agg(F.min_by("amount", "date").alias(FIRST_AMOUNT)), "customer_id", "left")
    derived = [c for c in tx.columns if c.startswith("first_")]
    if derived:
        earliest = F.struct("date", "_row")
        firsts = tx.groupBy("customer_id").agg(*(F.min_by(c, earliest).alias(c) for c in derived))
        out = out.join(firsts, "customer_id", "left")
    return out


def read_attributes(spark, path: str | Path, id_col: str):
    """An attributes table (CSV with a header, or Parquet) as a Spark frame with ``customer_id``
    (text) and its other columns; a CSV column whose every non-blank value is a number is numeric
    (double), any other is text, a blank cell missing (:func:`cltv.covariates.read_attributes`)."""
    from pyspark.sql import functions as F

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    parquet = path.is_dir() and any(path.rglob("*.parquet")) or ".parquet" in "".join(path.suffixes).lower()
    raw = (spark.read.parquet(str(path)) if parquet
           else spark.read.option("header", True).option("inferSchema", False).option("encoding", "UTF-8").csv(str(path)))
    if id_col not in raw.columns:
        raise DataError(f"{path}: no id column {id_col!r} (data.customers.id_col); columns: {raw.columns[:20]}")
    types = dict(raw.dtypes)
    text = {c: F.when(F.trim(F.col(c)) != "", F.col(c)) for c in raw.columns if c != id_col and types[c] == "string"}
    counts = raw.select(*(F.count(v).alias(f"n{i}") for i, v in enumerate(text.values())),
                        *(F.count(v.try_cast("double")).alias(f"d{i}") for i, v in enumerate(text.values()))).first() \
        if text else None
    columns = [F.trim(F.col(id_col).cast("string")).alias("customer_id")]
    for c in raw.columns:
        if c == id_col:
            continue
        if c in text:
            i = list(text).index(c)
            numeric = counts[f"n{i}"] == counts[f"d{i}"] and counts[f"n{i}"] > 0
            columns.append((text[c].try_cast("double") if numeric else text[c]).alias(c))
        else:
            columns.append(F.col(c))
    return raw.select(*columns)


def attach(customers, attributes, source: str):
    """``customers`` (Spark, ``customer_id`` and maybe attributes of the log) with the columns of
    ``attributes`` (:func:`read_attributes`); a customer without attributes, one listed twice, or a
    column ``customers`` already has is refused (``source`` names the table)."""
    from pyspark.sql import functions as F

    clash = [c for c in attributes.columns if c != "customer_id" and c in customers.columns]
    if clash:
        raise DataError(f"{source}: column(s) {clash} are already there (a log's own attributes, docs/covariates.md); "
                        "rename them in the attributes table")
    twice = attributes.groupBy("customer_id").count().filter("count > 1").select("customer_id").limit(1).collect()
    if twice:
        raise DataError(f"{source}: customer {twice[0][0]!r} is listed more than once; expected one row per customer")
    joined = customers.join(attributes.withColumn("_listed", F.lit(True)), "customer_id", "left")
    absent = joined.filter(F.col("_listed").isNull())
    count = absent.count()
    if count:
        first = [r[0] for r in absent.select("customer_id").orderBy("customer_id").limit(5).collect()]
        raise DataError(f"{source}: {count:,} customer(s) without attributes (e.g. {first}); expected a row for every "
                        "customer of the log")
    return joined.drop("_listed")


def distinct_rows(rfm_frame, customers, names: list[str], source: str) -> pd.DataFrame:
    """The distinct (:data:`~cltv.schema.RFM_COLUMNS`, covariate ``names``) rows of a Spark RFM table
    joined to ``customers`` (``customer_id`` and the attribute columns), with the number of
    customers of each (``customers``): what the fit with covariates needs, sorted. A missing value
    in a named column is refused here, with its count (``source`` names ``customers``)."""
    from pyspark.sql import functions as F

    absent = [n for n in names if n not in customers.columns]
    if absent:
        raise DataError(f"{source}: no column(s) {absent} for model.covariates; columns: "
                        f"{[c for c in customers.columns if c != 'customer_id'][:20]} (data.customers adds a table's)")
    table = complete(rfm_frame.join(customers.select("customer_id", *names), "customer_id", "left"), names, source)
    columns = [*RFM_COLUMNS, *names]
    out = table.groupBy(*columns).agg(F.count("*").alias("customers")).toPandas()
    return out.sort_values(columns, kind="stable").reset_index(drop=True)


def complete(frame, names: list[str], source: str):
    """``frame``, refused when a column of ``names`` has a missing value (counted in Spark)."""
    from pyspark.sql import functions as F

    if not names:
        return frame
    missing = frame.select(*(F.count(F.when(F.col(n).isNull(), 1)).alias(n) for n in names)).first()
    for n in names:
        if missing[n]:
            raise DataError(f"{source}: column {n!r} has {missing[n]:,} missing value(s); expected a value for every "
                            "customer: fill them or remove the column from model.covariates")
    return frame
