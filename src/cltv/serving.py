"""The CLTV model as an MLflow ``pyfunc`` model, for the Model Registry and ``mlflow models serve``.

The packaged model is "models from code": :mod:`cltv.serving_model` (a two-line file) plus the
model JSON of :meth:`cltv.model.CLTVModel.save` as an artifact and this package's ``.py`` files as
code. Nothing is pickled; loading rebuilds the model from the JSON.

Request columns (one row per customer):

``customer_id``   optional string, echoed back
``frequency``     repeat purchases, a whole number >= 0
``recency``       weeks from the first to the last purchase, 0 when ``frequency`` is 0
``T``             weeks from the first purchase to the scoring date, >= ``recency``
``monetary_value`` mean spend of the repeat purchases, > 0 when ``frequency`` > 0

Response columns: ``customer_id`` (when sent), ``expected_purchases_<h>m`` per configured
horizon, ``p_alive``, ``expected_value``, ``clv`` and ``segment``; rows in request order. The
RFM columns are not echoed: JSON encoding in MLflow's server is the largest cost of a large
request, and the echo would add half of it. A request that breaks a rule is
refused with :class:`~mlflow.exceptions.MlflowException` ``INVALID_PARAMETER_VALUE`` (HTTP 400)
and a message that names the column, the first offending rows and the rule.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from .data import _rows as data_rows
from .model import RFM_INPUT, CLTVModel, horizon_column

MODEL_CODE = Path(__file__).with_name("serving_model.py")
PACKAGE_DIR = Path(__file__).parent

#: Upper bounds of what a request may hold: far beyond any real customer, well inside what the
#: closed forms compute exactly.
LIMITS = {"frequency": 100_000, "recency": 5_218, "T": 5_218, "monetary_value": 1e12}
MAX_ROWS_SHOWN = 5
MAX_ROWS = 50_000  # rows per request (a 10,000-row request is scored in well under a second)


class RequestError(ValueError):
    """A scoring request breaks a rule; the message names the column, the rows and the rule."""


def _rows(mask: np.ndarray) -> str:
    return data_rows(mask, offset=0, limit=MAX_ROWS_SHOWN, unit="row") + " (0-based)"


def check_request(df: pd.DataFrame, monetary_includes_first: bool = False) -> pd.DataFrame:
    """Validate a scoring request and return it with float RFM columns and string ids.

    ``monetary_includes_first``: the model's convention (``monetary_value`` averages all
    ``frequency + 1`` orders, so it must be > 0 on every row).

    Raises :class:`RequestError` on the first broken rule.
    """
    if not isinstance(df, pd.DataFrame):
        raise RequestError(f"expected a table with columns {['customer_id', *RFM_INPUT]}, got {type(df).__name__}")
    if len(df) == 0:
        raise RequestError("the request has no rows; send at least one customer")
    if len(df) > MAX_ROWS:
        raise RequestError(f"the request has {len(df)} rows; send at most {MAX_ROWS:,} rows per request")
    missing = [c for c in RFM_INPUT if c not in df.columns]
    if missing:
        raise RequestError(f"missing column(s) {missing}; required: {RFM_INPUT} (customer_id optional)")
    out: dict[str, np.ndarray] = {}
    if "customer_id" in df.columns:
        ids = df["customer_id"]
        bad = ids.isna().to_numpy()
        if bad.any():
            raise RequestError(f"customer_id: missing in {_rows(bad)}; send it for every row or for none")
        out["customer_id"] = ids.astype(str).array
    for col in RFM_INPUT:
        values = df[col]
        if values.dtype == bool or not (pd.api.types.is_numeric_dtype(values) or values.dtype == object):
            raise RequestError(f"{col}: expected a number, got {values.dtype} values")
        if values.dtype == object and not {type(v) for v in values.array} <= {int, float}:
            # JSON values passed through: refuse booleans, lists, objects and non-numeric text
            numeric = pd.to_numeric(values.where(values.map(lambda v: not isinstance(v, bool))), errors="coerce")
            bad = (numeric.isna() & values.notna()).to_numpy()
            if bad.any():
                raise RequestError(f"{col}: expected a number in {_rows(bad)}")
            values = numeric
        x = values.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isfinite(x)
        if bad.any():
            raise RequestError(f"{col}: missing or non-finite value (null, NaN, inf) in {_rows(bad)}")
        bad = (x < 0) | (x > LIMITS[col])
        if bad.any():
            raise RequestError(f"{col}: must be between 0 and {LIMITS[col]:g} in {_rows(bad)}")
        out[col] = x
    f, r, t, m = (out[c] for c in RFM_INPUT)
    checks = [
        (f != np.floor(f), "frequency: must be a whole number of repeat purchases"),
        (r > t, "recency: must not exceed T (both in weeks since the first purchase)"),
        ((f == 0) & (r != 0), "recency: must be 0 when frequency is 0 (no repeat purchase)"),
        ((f > 0) & (r <= 0), "recency: must be > 0 when frequency > 0 (repeat purchases come after the first)"),
        ((m <= 0), "monetary_value: must be > 0 (mean spend of all orders)") if monetary_includes_first else
        ((f > 0) & (m <= 0), "monetary_value: must be > 0 when frequency > 0 (mean repeat spend)"),
    ]
    for bad, message in checks:
        if bad.any():
            raise RequestError(f"{message}; broken in {_rows(bad)}")
    return pd.DataFrame(out)


def score(model: CLTVModel, request: pd.DataFrame) -> pd.DataFrame:
    """Validate ``request`` and score it: ``customer_id`` (when sent), then :func:`output_columns`
    and ``segment``. Every number in the result is finite."""
    try:
        scores = model.predict(check_request(request, model.monetary_includes_first))
    except (ValueError, FloatingPointError) as exc:
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"the model cannot score this request: {exc}") from None
    numbers = output_columns(model.horizons_months)
    bad = np.zeros(len(scores), dtype=bool)
    for column in numbers:
        bad |= ~np.isfinite(scores[column].to_numpy())
    if bad.any():
        raise RequestError(f"the model cannot score {_rows(bad)}: values outside its numeric range")
    return scores[(["customer_id"] if "customer_id" in scores.columns else []) + numbers + ["segment"]]


def output_columns(horizons_months) -> list[str]:
    """The numeric response columns."""
    return [*(horizon_column(h) for h in horizons_months), "p_alive", "expected_value", "clv"]


def signature(model: CLTVModel):
    """Input: optional ``customer_id`` and the four RFM columns; output: the scores."""
    # The RFM columns are declared "any" so that MLflow passes the JSON values through unchanged
    # and check_request can refuse booleans, nested values and text with its own messages
    # (with "double", MLflow would silently turn true into 1.0); the README states their types.
    inputs = Schema([ColSpec("string", "customer_id", required=False),
                     *(ColSpec(AnyType(), c) for c in RFM_INPUT)])
    outputs = Schema([ColSpec("string", "customer_id", required=False),
                      *(ColSpec("double", c) for c in output_columns(model.horizons_months)),
                      ColSpec("string", "segment")])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """The installed versions of what the packaged model imports."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "lifetimes", "pandas", "numpy", "scipy", "scikit-learn")]


def log_model(model_json: str | Path, input_example: pd.DataFrame, registered_model_name: str | None = None,
              name: str = "model"):
    """Log the packaged model into the active MLflow run (and register it when a name is given).

    The example's RFM columns are sent as floats (the signature's type; MLflow does not cast
    int64 to float64 in Python calls, JSON requests are parsed to the signature's types).
    The input example is scored here first, so a broken example fails loudly instead of MLflow's
    warning. Returns MLflow's ``ModelInfo``.
    """
    model = CLTVModel.load(model_json)
    input_example = input_example.astype({c: float for c in RFM_INPUT})
    score(model, input_example)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "cltv"
        code.mkdir()
        for src in sorted(PACKAGE_DIR.glob("*.py")):
            shutil.copy2(src, code / src.name)
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(MODEL_CODE), artifacts={"model_json": str(model_json)},
            code_paths=[str(code)], signature=signature(model), input_example=input_example,
            pip_requirements=pip_requirements(), registered_model_name=registered_model_name,
        )


class CLTVPyfunc(mlflow.pyfunc.PythonModel):
    """Scores RFM rows with the CLTV model rebuilt from its JSON artifact ``model_json``."""

    def load_context(self, context):
        self.model = CLTVModel.load(context.artifacts["model_json"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return score(self.model, model_input)
        except RequestError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
