"""What `mlflow models serve` and `mlflow models predict` do not do by themselves: refuse an
oversized body before parsing it, never answer with a stack trace, a file path or a 500, and read
CSV ids as text.

The scoring server hands every `/invocations` body to ``mlflow.pyfunc.scoring_server.invocations``
(looked up at call time). :func:`install`, called when the packaged model is loaded inside the
server, wraps that function so that:

- a body larger than ``max_body`` bytes gets 413 before it is parsed (parsing is what costs
  seconds and gigabytes for a huge body; reading it costs neither);
- an error keeps MLflow's error code and message, without MLflow's ``stack_trace`` and without
  the copy of the request MLflow puts in front of the message;
- an exception that would become a 500 (e.g. JSON nested too deep for Python's parser) becomes
  a 400 that says what to send.
"""
from __future__ import annotations

import json
import re

PREFIX = re.compile(r"^Failed to predict data .*?\nError:\s*", re.DOTALL)  # MLflow's copy of the request
PATHS = re.compile(r"File \"[^\"]+\"|(?:/[\w.-]+){2,}\.py")


def clean(message: str) -> str:
    """MLflow's error message without the request copy and file paths, at most 2,000 characters."""
    return PATHS.sub("<path>", PREFIX.sub("", message)).strip()[:2000]


def install(max_body: int) -> None:
    """Wrap the scoring server's ``invocations`` (once per process); see the module docstring."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import BAD_REQUEST, ErrorCode
    from mlflow.pyfunc import scoring_server

    original = scoring_server.invocations
    if getattr(original, "cltv_guard", False):
        return

    def invocations(data, content_type, model, input_schema):
        if len(data) > max_body:
            message = (f"the request body has {len(data):,} bytes, more than {max_body:,}; send fewer rows per "
                       "request (batch scoring, `cltv score`, has no limit)")
            return scoring_server.InvocationsResponse(
                json.dumps({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": message}), 413, "application/json")
        try:
            return original(data, content_type, model, input_schema)
        except MlflowException as exc:
            code = ErrorCode.Value(exc.error_code) if exc.get_http_status_code() < 500 else BAD_REQUEST
            raise MlflowException(clean(exc.message), error_code=code) from None
        except Exception as exc:  # noqa: BLE001 - whatever the parser hits, the client gets a 400
            raise MlflowException(f"the request could not be read ({type(exc).__name__}); send a JSON, CSV or "
                                  "Parquet table of customers", error_code=BAD_REQUEST) from None

    invocations.cltv_guard = True
    scoring_server.invocations = invocations


def install_csv_schema(schema) -> None:
    """Make MLflow parse CSV input with the model's signature also where it passes none
    (`mlflow models predict -t csv`): otherwise ids are read as numbers, ``00123`` becomes 123 and
    the signature's text check fails."""
    from mlflow.pyfunc import scoring_server

    original = scoring_server.parse_csv_input
    if getattr(original, "cltv_guard", False):
        return

    def parse_csv_input(csv_input, schema_=None):
        return original(csv_input, schema=schema_ or schema)

    parse_csv_input.cltv_guard = True
    scoring_server.parse_csv_input = parse_csv_input
