"""The tables a run records as MLflow datasets (the UI's Dataset column), with their schema."""
from __future__ import annotations

import hashlib
import json
import warnings

import pandas as pd

SAMPLE_ROWS = 1000  # the rows a typed column's type is inferred from


def schema(table: pd.DataFrame):
    """The schema ``mlflow.data.from_pandas`` infers for ``table`` (None where MLflow's inference
    fails, as MLflow then logs none), without MLflow's test of every value in Python (seconds per
    million rows): a typed column's type (numbers, text, dates, ...) from its first non-missing
    rows, ``required`` (no missing value) from the whole column, vectorised. Columns of Python
    objects, whose type may change further down, go through MLflow's inference whole."""
    import mlflow
    from mlflow.types import ColSpec, Schema

    specs = []
    for name in table.columns:
        column = table[name]
        sample = column
        if column.dtype != object:
            sample = column.head(SAMPLE_ROWS)
            if sample.isna().all() and column.notna().any():
                sample = column.dropna().head(SAMPLE_ROWS)
        with warnings.catch_warnings():  # MLflow's hints: integer columns hold no missing values, ...
            warnings.simplefilter("ignore")
            inferred = mlflow.data.from_pandas(pd.DataFrame({name: sample.reset_index(drop=True)}), digest="-").schema
        if inferred is None:  # e.g. mixed types in one column: MLflow logs no schema then
            return None
        (spec,) = inferred.inputs
        specs.append(ColSpec(type=spec.type, name=name, required=not bool(column.isna().any())))
    return Schema(specs)


def digest(table: pd.DataFrame) -> str:
    """16 hex digits of ``table``'s column names and every value (pandas' fixed-key row hashes):
    two tables share a digest only when they hold the same data."""
    h = hashlib.sha256(json.dumps([str(c) for c in table.columns]).encode())
    h.update(pd.util.hash_pandas_object(table, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def log(tables: dict[str, pd.DataFrame], source: str, name: str) -> None:
    """Log each table of ``tables`` (context -> table, e.g. "evaluation", "training") as a dataset
    input of the active run, named ``name``, from ``source``, with the :func:`digest` of its
    contents. MLflow keeps one dataset per name and digest in an experiment, with the schema and
    row count it was first logged with: a digest of the file alone would show a later run's
    table (other dates, other covariates) as the first one's."""
    import mlflow

    for context, table in tables.items():
        with warnings.catch_warnings():  # MLflow's hint on a local path as the source
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted", UserWarning)
            dataset = mlflow.data.from_pandas(table, source=source, name=name, digest=digest(table))
        dataset.__dict__["schema"] = schema(table)  # MLflow's cached property, computed as above
        mlflow.log_input(dataset, context=context)
