"""The tables a run records as MLflow datasets (the UI's Dataset column), with their schema."""
from __future__ import annotations

import hashlib
import warnings

import pandas as pd

SAMPLE_ROWS = 1000  # the rows a column's type is inferred from


def schema(table: pd.DataFrame):
    """The schema ``mlflow.data.from_pandas`` infers for ``table``, in milliseconds: each column's
    type from its first non-missing rows, ``required`` (no missing value) from the whole column,
    vectorised. MLflow's own inference tests every value in Python (seconds per million rows)."""
    from mlflow.models import infer_signature
    from mlflow.types import ColSpec, Schema

    specs = []
    for name in table.columns:
        column = table[name]
        sample = column.head(SAMPLE_ROWS)
        if sample.isna().all():
            sample = column.dropna().head(SAMPLE_ROWS) if column.notna().any() else sample
        with warnings.catch_warnings():  # MLflow's hint: integer columns hold no missing values
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column", UserWarning)
            (spec,) = infer_signature(pd.DataFrame({name: sample.reset_index(drop=True)})).inputs.inputs
        specs.append(ColSpec(type=spec.type, name=name, required=not bool(column.isna().any())))
    return Schema(specs)


def log(tables: dict[str, pd.DataFrame], source: str, name: str, data_sha256: str | None = None) -> None:
    """Log each table of ``tables`` (context -> table, e.g. "evaluation", "training") as a dataset
    input of the active run, named ``name``, from ``source``. Its digest is the data file's
    SHA-256 with the context, so each table is its own dataset (MLflow keeps one input per name
    and digest); without ``data_sha256`` MLflow's digest of the table."""
    import mlflow

    for context, table in tables.items():
        digest = hashlib.sha256(f"{data_sha256}:{context}".encode()).hexdigest()[:16] if data_sha256 else None
        with warnings.catch_warnings():  # MLflow's hint on a local path as the source
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted", UserWarning)
            dataset = mlflow.data.from_pandas(table, source=source, name=name, digest=digest)
        dataset.__dict__["schema"] = schema(table)  # MLflow's cached property, computed as above
        mlflow.log_input(dataset, context=context)
