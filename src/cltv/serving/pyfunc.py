"""The CLTV model as an MLflow ``pyfunc`` model, for the Model Registry and ``mlflow models serve``.

The packaged model is "models from code": :mod:`cltv.serving.model_code` (a two-line file) plus the
model JSON of :meth:`cltv.model.CLTVModel.save` as an artifact and this package's ``.py`` files as
code. Nothing is pickled; loading rebuilds the model from the JSON.

Request columns (one row per customer) are those of the RFM table (:mod:`cltv.schema`):
optional ``customer_id`` (text; a whole number is read as its digits), ``frequency``, ``recency``,
``T`` (weeks) and ``monetary_value``, and a model's covariate columns; a model with a season
also reads an optional ``scoring_date`` (one day per request; default the training end), the day
the histories are measured to, and answers it in ``scoring_date``. The signature declares
the output, and for a model with covariates the request columns as MLflow ``Any`` values
(:func:`signature`): MLflow passes the values as sent (integers, floats, a text such as ``"1_000"``) and the one check,
:func:`cltv.schema.validate_rfm`, decides, in a Python call, a JSON, CSV or Parquet request, a
``spark_udf`` and the pipeline alike; so every table the pipeline writes (``frequency`` is an
integer column there) is accepted and gets the same numbers, and what the pipeline refuses every
door refuses. CSV bodies are read with ids as text (``NA`` and ``00123`` stay as sent).

Response columns: ``customer_id`` (when sent), ``expected_purchases_<h>m`` per configured
horizon, ``p_alive``, ``expected_value``, ``clv`` and ``segment``; with the model's
``interval_level`` also the predictive interval bounds (``purchases_<h>m_lo``/``_hi``,
``spend_<n>m_lo``/``_hi``, ``clv_lo``/``_hi``) and ``segment_span``; rows in request order. The
RFM columns are not echoed: JSON encoding in MLflow's server is the largest cost of a large
request, and the echo would add half of it. A request that breaks a rule is refused with
:class:`~mlflow.exceptions.MlflowException` ``INVALID_PARAMETER_VALUE`` (HTTP 400) and a
message that names the column, the first offending rows and the rule; a request to the scoring
server may hold at most :data:`MAX_ROWS` rows (Python calls and batch scoring have no limit).
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
import sys
import tempfile
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import AnyType, ColSpec, Schema

from .. import model_season
from ..errors import DataError
from ..model import CLTVModel
from ..schema import RFM_COLUMNS, SEGMENT_SPAN, RFMError, interval_columns, rows, score_columns
from . import http_guard

MODEL_CODE = Path(__file__).with_name("model_code.py")
PACKAGE_DIR = Path(__file__).parents[1]  # src/cltv: packaged whole
MAX_ROWS = 50_000  # rows per HTTP request (a 10,000-row request is scored in well under a second)
MAX_BODY = 16 << 20  # bytes per HTTP request body: 50,000 rows of JSON records fit
MAX_EXPANDED = 64 << 20  # bytes a Parquet body may declare once decompressed
MAX_COLUMNS = 64  # columns of a Parquet body
READ_SECONDS = 30  # a request body must arrive within this time (MLflow's own limit: 60 s, answered 504)
SERVER_APP = "mlflow.pyfunc.scoring_server.app"  # the module `mlflow models serve` runs


class RequestError(DataError):
    """A scoring request breaks a rule; the message names the column, the rows and the rule."""


def score(model: CLTVModel, request: pd.DataFrame, max_rows: int | None = None) -> pd.DataFrame:
    """Validate ``request`` (:func:`cltv.schema.validate_rfm`, at most ``max_rows`` rows) and
    score it: ``customer_id`` (when sent), then :func:`cltv.schema.score_columns` and ``segment``. Every
    number in the result is finite."""
    if max_rows is not None and isinstance(request, pd.DataFrame) and len(request) > max_rows:
        raise RequestError(f"the request has {len(request):,} rows; send at most {max_rows:,} rows per request "
                           "(batch scoring, `cltv score`, has no limit)")
    if model.season_ and isinstance(request, pd.DataFrame) and "scoring_date" in request.columns:
        model = model_season.on(model, _scoring_date(request["scoring_date"]))
    try:
        scores = model.predict(request)
    except (ValueError, FloatingPointError) as exc:
        raise RequestError(str(exc) if isinstance(exc, RFMError) else f"the model cannot score this request: {exc}") \
            from None
    numbers, labels = response_columns(model)
    bad = np.zeros(len(scores), dtype=bool)
    for column in numbers:
        bad |= ~np.isfinite(scores[column].to_numpy())
    if bad.any():
        raise RequestError(f"the model cannot score {rows(bad)}: values outside its numeric range")
    if model.season_:  # the day the histories are measured to and the horizons start from
        scores["scoring_date"] = model_season.scoring_day(model)
    return scores[(["customer_id"] if "customer_id" in scores.columns else []) + numbers + labels]


def _scoring_date(values: pd.Series) -> pd.Timestamp:
    """The one day of a request's ``scoring_date`` column (a model with a season reads the
    histories at it); RequestError for several days or one that is not a date."""
    days = pd.unique(values.astype(str).str.strip())
    if len(days) != 1:
        raise RequestError(f"column 'scoring_date': {len(days)} different days; send one day per request")
    day = pd.to_datetime(days[0], format="ISO8601", errors="coerce")
    if pd.isna(day):
        raise RequestError(f"column 'scoring_date': {days[0][:40]!r} is not a date; expected YYYY-MM-DD")
    return day


def response_columns(model: CLTVModel) -> tuple[list[str], list[str]]:
    """The numeric and the label columns of a response, in order (a model with a season adds
    ``scoring_date``, the training end its histories are read at)."""
    dated = ["scoring_date"] if model.season_ else []
    if model.interval_level is None:
        return score_columns(model.horizons_months), ["segment", *dated]
    return ([*score_columns(model.horizons_months), *interval_columns(model.horizons_months, model.clv_months)],
            ["segment", SEGMENT_SPAN, *dated])


def signature(model: CLTVModel):
    """The scores as output (purchase bounds are whole numbers). Inputs are declared only for a
    model with covariates: the RFM columns and its attribute columns, of MLflow's ``Any`` type,
    so the signature names what a request must hold; declared optional, so that a missing one is
    refused in one line naming it by the model's own check. The values are checked by
    :func:`cltv.schema.validate_rfm` and the covariate design alone, as sent: typed columns would
    refuse the pipeline's integer ``frequency``, and ``Any`` columns cost a Python loop over every
    value (0.1-0.25 s per 50,000 rows), which a model without covariates does not pay."""
    from ..model_effects import attribute_names

    numbers, labels = response_columns(model)
    outputs = Schema([ColSpec("string", "customer_id", required=False),
                      *(ColSpec("long" if c.startswith("purchases_") else "double", c) for c in numbers),
                      *(ColSpec("string", c) for c in labels)])
    names = attribute_names(model)
    inputs = Schema([ColSpec(AnyType(), c, required=False) for c in ["customer_id", *RFM_COLUMNS, *names]]
                    ) if names else None  # optional: a missing column is named by the model's own check
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """The installed versions of what the packaged model imports."""
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("mlflow", "lifetimes", "pandas", "numpy", "scipy", "scikit-learn")]


@contextmanager
def _package(model_json: str | Path):
    """The arguments of ``mlflow.pyfunc.log_model`` / ``save_model`` for the model JSON: the
    models-from-code file, the JSON as artifact, this package's code (copied to a temporary
    folder for the duration), the signature and the pinned requirements."""
    model = CLTVModel.load(model_json)
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "cltv"
        code.mkdir()
        for src in sorted(PACKAGE_DIR.rglob("*.py")):  # the package with its subpackages (models, ...)
            (code / src.relative_to(PACKAGE_DIR)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, code / src.relative_to(PACKAGE_DIR))
        yield {"python_model": str(MODEL_CODE), "artifacts": {"model_json": str(model_json)},
               "code_paths": [str(code)], "signature": signature(model), "pip_requirements": pip_requirements()}


def log_model(model_json: str | Path, input_example: pd.DataFrame, registered_model_name: str | None = None,
              name: str = "model"):
    """Log the packaged model into the active MLflow run (and register it when a name is given).

    The input example is scored here first, so a broken example fails loudly instead of MLflow's
    warning. Returns MLflow's ``ModelInfo``.
    """
    score(CLTVModel.load(model_json), input_example)
    with _package(model_json) as packaged:
        return mlflow.pyfunc.log_model(name=name, input_example=input_example,
                                       registered_model_name=registered_model_name, **packaged)


def save_model(model_json: str | Path, path: str | Path, input_example: pd.DataFrame) -> None:
    """The packaged model as a local MLflow model folder at ``path`` (no tracking store), e.g. for
    ``mlflow.pyfunc.spark_udf`` in the pipeline's segment stage."""
    score(CLTVModel.load(model_json), input_example)
    with _package(model_json) as packaged:
        mlflow.pyfunc.save_model(path=str(path), input_example=input_example, **packaged)


def read_parquet_request(stream) -> pd.DataFrame:
    """A Parquet request, checked by its footer before anything is decompressed: at most
    :data:`MAX_ROWS` rows, :data:`MAX_COLUMNS` columns and :data:`MAX_EXPANDED` bytes
    uncompressed (a small compressed body may declare millions of rows)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(stream).metadata
    except Exception:  # noqa: BLE001 - anything pyarrow cannot read as a footer
        raise MlflowException("the body is not a Parquet file; send a Parquet table of customers",
                              error_code=INVALID_PARAMETER_VALUE) from None
    expanded = sum(meta.row_group(g).column(c).total_uncompressed_size
                   for g in range(meta.num_row_groups) for c in range(meta.num_columns))
    if meta.num_rows > MAX_ROWS or meta.num_columns > MAX_COLUMNS or expanded > MAX_EXPANDED:
        raise MlflowException(f"the Parquet body declares {meta.num_rows:,} rows, {meta.num_columns} columns and "
                              f"{expanded:,} bytes uncompressed; send at most {MAX_ROWS:,} rows, {MAX_COLUMNS} "
                              f"columns and {MAX_EXPANDED:,} bytes per request (batch scoring, `cltv score`, has no "
                              "limit)", error_code=INVALID_PARAMETER_VALUE)
    stream.seek(0)
    return pd.read_parquet(stream)


def read_csv_request(stream) -> pd.DataFrame:
    """A CSV request as the pipeline reads a log: ``customer_id`` as text, nothing read as missing
    (``NA`` is an id); numbers as pandas reads them (a cell that is no number stays text and is
    refused by :func:`cltv.schema.validate_rfm`)."""
    return pd.read_csv(stream, dtype={"customer_id": str}, keep_default_na=False)


class CLTVPyfunc(mlflow.pyfunc.PythonModel):
    """Scores RFM rows with the CLTV model rebuilt from its JSON artifact ``model_json``."""

    def load_context(self, context):
        self.model = CLTVModel.load(context.artifacts["model_json"])
        if SERVER_APP in sys.modules:  # loaded by `mlflow models serve`: guard its HTTP endpoint
            http_guard.install(MAX_BODY, READ_SECONDS)
        if SERVER_APP in sys.modules or _MLFLOW_IS_IN_SERVING_ENVIRONMENT.get():  # serve, or `mlflow models predict`
            http_guard.install_readers(read_csv_request, read_parquet_request)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            return score(self.model, model_input, MAX_ROWS if SERVER_APP in sys.modules else None)
        except RequestError as exc:
            raise MlflowException(str(exc), error_code=INVALID_PARAMETER_VALUE) from None
