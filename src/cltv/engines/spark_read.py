"""Reading transaction logs in Spark by the pandas reader's rules (:mod:`cltv.data.transactions`):
CSV or Parquet, a file or a folder of part files; invoice lines, cancellations (dropped or netted),
guests, one market, time zones, epoch numbers, the observation window, non-positive amounts; the
same data-quality account. Used by :mod:`cltv.engines.spark`.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import DataError

TIDY = ("customer_id", "date", "amount")


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
    day), ``amount`` (double) (with ``spec.first_purchase``: also ``_row``, the input order, and
    the ``first_<col>`` columns), and the :class:`~cltv.data.transactions.Quality` account. Not in
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
    if types[spec.customer_col].startswith(("array", "map", "struct", "boolean", "binary")):
        raise DataError(f"{path}: column {spec.customer_col!r}: expected a text or a whole number as customer id, "
                        f"not {types[spec.customer_col]} values")
    ident = F.col(spec.customer_col)
    if types[spec.customer_col] in ("double", "float") or types[spec.customer_col].startswith("decimal"):
        fraction = raw.filter(ident.isNotNull() & (ident != F.floor(ident))).select(ident).limit(1).collect()
        if fraction:  # as the pandas reader: a fraction is no id
            raise DataError(f"{path}: column {spec.customer_col!r}: expected a text or a whole number as customer id, "
                            f"not a fraction such as {fraction[0][0]}")
        ident = ident.cast("decimal(38,0)")  # whole numbers as their digits: 12417.0 is 12417
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
    row = F.monotonically_increasing_id()  # input order: the file's, in one file
    matching = [F.trim(F.col(spec.invoice_col).cast("string")).alias("_order")] if spec.invoice_col else []
    if spec.product_col:
        matching += [F.trim(F.col(spec.product_col).cast("string")).alias("_product"), F.abs(quantity).alias("_qty")]
    tx = raw.select(F.when(ident != "", ident).alias("customer_id"), _local_day(raw, spec, path).alias("date"),
                    amount.alias("amount"), cancel.alias("_cancel"), keep.alias("_keep"), row.alias("_row"), *matching,
                    F.col(spec.date_col).cast("string").alias("_date"), *_first_purchase(spec),
                    *(F.col(c).cast("string").alias(f"_{i}") for i, c in enumerate(
                        [spec.amount_col] if spec.amount_col else [spec.quantity_col, spec.price_col])))
    if not spec.invoice_col:
        tx = tx.withColumn("_order", F.col("_row").cast("string"))  # each line its own order
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
    if c["cancel"]:
        out, done = _cancellations(out, rows.filter(~guest & ~late & F.col("_cancel")), spec)
        out = out.cache()
        nonpositive = out.filter(F.col("amount") <= 0).count()
        quality.cancellations = done.as_dict()
        quality.netted_cancellations = done.matched if spec.cancellations == "net" else 0
        quality.dropped["cancelled_in_full"] = done.purchase_lines_removed
    if spec.nonpositive == "drop":
        out = out.filter(F.col("amount") > 0)
    quality.dropped.update(filtered=read - c["kept"], missing_customer=c["guest"], outside_window=c["late"],
                           cancellation=c["cancel"] - quality.netted_cancellations,
                           nonpositive_amount=nonpositive if spec.nonpositive == "drop" else 0)
    quality.nonpositive_kept = 0 if spec.nonpositive == "drop" else nonpositive
    quality.rows_kept = read - sum(quality.dropped.values())
    extra = [f"first_{c}" for c in spec.first_purchase]
    return out.select(*TIDY, *(["_row", *extra] if extra else [])), quality


def _first_purchase(spec) -> list:
    """The ``first_<col>`` columns of ``spec.first_purchase``: each row's value as trimmed text, a
    blank one missing (:func:`cltv.data.transactions.load_log`)."""
    from pyspark.sql import functions as F

    text = lambda c: F.trim(F.col(c).cast("string"))  # noqa: E731
    return [F.when(text(c) != "", text(c)).alias(f"first_{c}") for c in spec.first_purchase]


def _cancellations(buys, returns, spec):
    """``(buys, account)``: the purchase lines without the orders cancelled in full (under
    ``net`` the rest lowered by their cancellations) and the
    :class:`~cltv.data.cancellations.Account`, by the rule of :mod:`cltv.data.cancellations`.
    Each matching stage is one pass per customer (and product): purchases and cancellations in
    (day, purchases first, input order), each cancellation takes the last purchase line seen."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from ..data.cancellations import FULL, STAGES, Account

    todo = returns.select("*", F.abs("amount").alias("_change"))
    found = []
    for shared in (s for s in STAGES if spec.product_col or not s):
        keys = ["customer_id", *(f"_{'qty' if c == 'quantity' else c}" for c in shared)]
        both = buys.select(*keys, "date", "_row", F.lit(0).alias("_is_cancel"), F.col("_row").alias("_buy")).unionByName(
            todo.select(*keys, "date", "_row", F.lit(1).alias("_is_cancel"), F.lit(None).cast("long").alias("_buy")))
        seen = Window.partitionBy(*keys).orderBy("date", "_is_cancel", "_row").rowsBetween(Window.unboundedPreceding, 0)
        target = (both.withColumn("_target", F.last("_buy", ignorenulls=True).over(seen))
                  .filter(F.col("_is_cancel") == 1).select("_row", "_target"))
        todo = todo.join(target, "_row").cache()
        found.append(todo.filter(F.col("_target").isNotNull()).select("_target", "_change"))
        todo = todo.filter(F.col("_target").isNull()).drop("_target")
    matched = found[0]
    for part in found[1:]:
        matched = matched.unionByName(part)
    per_line = matched.groupBy("_target").agg(F.sum("_change").alias("_cancelled"), F.count("*").alias("_n"))
    order = Window.partitionBy("customer_id", "_order")
    lines = (buys.join(per_line, buys["_row"] == per_line["_target"], "left").fillna({"_cancelled": 0.0, "_n": 0})
             .withColumn("_gross", F.sum("amount").over(order)).withColumn("_reversed", F.sum("_cancelled").over(order)))
    full = (F.col("_gross") > 0) & (F.col("_reversed") >= FULL * F.col("_gross")) & (F.col("_reversed") > 0)
    lines = lines.withColumn("_full", full).cache()
    day = F.concat_ws("\x1f", "customer_id", F.col("date").cast("string"))
    counted = lambda condition: F.sum(F.when(condition, 1).otherwise(0))  # noqa: E731
    a = lines.select(F.sum("_n").alias("matched"), F.countDistinct(F.when(F.col("_full"), F.concat_ws(
                         "\x1f", "customer_id", "_order"))).alias("orders"), counted(F.col("_full")).alias("lines"),
                     F.countDistinct(day).alias("days"), F.countDistinct(F.when(~F.col("_full"), day)).alias("days_kept"),
                     F.countDistinct("customer_id").alias("customers"),
                     F.countDistinct(F.when(~F.col("_full"), F.col("customer_id"))).alias("customers_kept"),
                     F.sum(F.when(F.col("_full"), F.col("amount")).otherwise(0.0)).alias("spend_full"),
                     F.sum(F.when(~F.col("_full"), F.col("_cancelled")).otherwise(0.0)).alias("netted")).first()
    rows = returns.count()
    account = Account(rows=rows, matched=int(a["matched"] or 0), unmatched=rows - int(a["matched"] or 0),
                      orders_cancelled_in_full=a["orders"], purchase_lines_removed=int(a["lines"] or 0),
                      purchase_days_removed=a["days"] - a["days_kept"], customers_removed=a["customers"] - a["customers_kept"],
                      spend_cancelled_in_full=float(a["spend_full"] or 0.0))
    kept = lines.filter(~F.col("_full"))
    if spec.cancellations == "net":
        account.spend_netted = float(a["netted"] or 0.0)
        kept = kept.withColumn("amount", F.col("amount") - F.col("_cancelled"))
    return kept.drop("_target", "_cancelled", "_n", "_gross", "_reversed", "_full"), account


def _local_day(raw, spec, path: Path):
    """The purchase day of each row (rule 4 of :mod:`cltv.data.transactions`): a time without an
    offset is local; one with an offset is converted to ``spec.timezone`` when set, else taken at
    its own offset; epoch numbers by their size."""
    from pyspark.sql import functions as F

    from ..data.transactions import EPOCH_TEXT

    kind = dict(raw.dtypes)[spec.date_col]
    if kind == "string" and not spec.date_format and raw.filter(  # epoch numbers written as text (a CSV)
            ~F.trim(F.col(spec.date_col)).rlike(f"^{EPOCH_TEXT}$")).limit(1).count() == 0:
        raw, kind = raw.withColumn(spec.date_col, F.trim(F.col(spec.date_col)).cast("decimal(20,0)")), "bigint"
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
