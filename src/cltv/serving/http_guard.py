"""What `mlflow models serve` and `mlflow models predict` do not do by themselves: refuse an
oversized body before parsing it, never answer with a stack trace, a file path or a 500, and read
CSV requests by the model's rules.

The scoring server hands every `/invocations` body to ``mlflow.pyfunc.scoring_server.invocations``
(looked up at call time). :func:`install`, called when the packaged model is loaded inside the
server, wraps that function so that:

- a body larger than ``max_body`` bytes gets 413 while it is read: at once when its
  Content-Length says so, else as soon as that many bytes have arrived (Starlette's
  ``Request.body``, which MLflow's endpoint awaits, is replaced by a bounded reader in the server
  process); a body that has not arrived within ``read_seconds`` gets 408, as JSON like every
  other answer (MLflow's own timeout answers 504 in plain text);
- an error keeps MLflow's error code and message, without MLflow's ``stack_trace`` and without
  the copy of the request MLflow puts in front of the message;
- an exception that would become a 500 (e.g. JSON nested too deep for Python's parser) becomes
  a 400 that says what to send.
"""
from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable

from ..schema import RFM_COLUMNS, missing_columns

PREFIX = re.compile(r"^Failed to predict data .*?\nError:\s*", re.DOTALL)  # MLflow's copy of the request
PATHS = re.compile(r"File \"[^\"]+\"|(?:/[\w.-]+){2,}\.py")
ENFORCE = "Failed to enforce schema of data"  # MLflow's signature check, with a copy of the request
MISSING = re.compile(r"Model is missing inputs (\[[^\]]*\])")


def clean(message: str) -> str:
    """MLflow's error message without the request copy and file paths, at most 2,000 characters;
    MLflow's own check of the signature's columns says it as the pipeline does."""
    message = PREFIX.sub("", message)
    if message.startswith(ENFORCE):  # "... of data '<the request>' with schema '<...>'. Error: <why>"
        why = message.rpartition("Error: ")[2]
        missing = MISSING.match(why)
        message = (missing_columns(ast.literal_eval(missing.group(1))) if missing else
                   f"the request does not fit the model's columns ({', '.join(RFM_COLUMNS)} as numbers, each once; "
                   f"customer_id optional): {why}")
    return PATHS.sub("<path>", message).strip()[:2000]


#: what the guard replaces in ``mlflow.pyfunc.scoring_server`` (private to MLflow, looked up at
#: call time), and what its wrappers use from there
HOOKED = ("invocations", "parse_csv_input", "parse_parquet_input")
USED = ("InvocationsResponse",)


def missing_hooks() -> list[str]:
    """The names of :data:`HOOKED` and :data:`USED` the installed MLflow does not have (as callables),
    and Starlette's ``Request.body`` if it is no coroutine function."""
    import inspect

    from mlflow.pyfunc import scoring_server
    from starlette.requests import Request

    missing = [name for name in HOOKED + USED if not callable(getattr(scoring_server, name, None))]
    return missing + ([] if inspect.iscoroutinefunction(Request.body) else ["starlette Request.body"])


def _hook(name: str, wrap: Callable[[Callable], Callable]) -> None:
    """Replace ``mlflow.pyfunc.scoring_server.<name>`` by ``wrap(original)``, once per process:
    the one place the guard reaches into MLflow. A RuntimeError naming MLflow's version when the
    name is gone or not a function (MLflow moved it: the guard must follow)."""
    import mlflow
    from mlflow.pyfunc import scoring_server

    original = getattr(scoring_server, name, None)
    if not callable(original):
        raise RuntimeError(f"cltv's serving guard replaces mlflow.pyfunc.scoring_server.{name}, which MLflow "
                           f"{mlflow.__version__} does not have; port cltv.serving.http_guard to this MLflow version "
                           "or install the pinned one (requirements.lock)")
    if getattr(original, "cltv_guard", False):
        return
    wrapper = wrap(original)
    wrapper.cltv_guard = True
    setattr(scoring_server, name, wrapper)


def install(max_body: int, read_seconds: float) -> None:
    """Wrap the scoring server's ``invocations`` and bound the reading of request bodies (once
    per process); see the module docstring."""
    _hook("invocations", lambda original: _guarded(original, max_body))
    _bound_body(max_body, read_seconds)


def refusal(message: str, status: int, code: str):
    """An MlflowException that MLflow's endpoint answers with ``status`` and the JSON
    ``{"error_code": code, "message": message}``."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    class Refused(MlflowException):
        def get_http_status_code(self) -> int:
            return status

    return Refused(message, error_code=ErrorCode.Value(code))


def _bound_body(max_body: int, read_seconds: float) -> None:
    import asyncio

    from starlette.requests import Request

    if getattr(Request.body, "cltv_guard", False):
        return
    too_large = (f"the request body has more than {max_body:,} bytes; send fewer rows per request "
                 "(batch scoring, `cltv score`, has no limit)")

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_body:
                raise refusal(too_large, 413, "REQUEST_LIMIT_EXCEEDED")

            async def read() -> bytes:
                chunks, size = [], 0
                async for chunk in self.stream():
                    size += len(chunk)
                    if size > max_body:
                        raise refusal(too_large, 413, "REQUEST_LIMIT_EXCEEDED")
                    chunks.append(chunk)
                return b"".join(chunks)

            try:
                self._body = await asyncio.wait_for(read(), read_seconds)
            except TimeoutError:
                raise refusal(f"the request body did not arrive within {read_seconds:g} s; send it at once",
                              408, "DEADLINE_EXCEEDED") from None
        return self._body

    body.cltv_guard = True
    Request.body = body


def _guarded(original: Callable, max_body: int) -> Callable:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import BAD_REQUEST, ErrorCode
    from mlflow.pyfunc import scoring_server

    def invocations(data, content_type, model, input_schema):
        if len(data) > max_body:
            message = (f"the request body has {len(data):,} bytes, more than {max_body:,}; send fewer rows per "
                       "request (batch scoring, `cltv score`, has no limit)")
            return scoring_server.InvocationsResponse(
                json.dumps({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": message}), 413, "application/json")
        try:
            answer = original(data, content_type, model, input_schema)
        except MlflowException as exc:
            code = ErrorCode.Value(exc.error_code) if exc.get_http_status_code() < 500 else BAD_REQUEST
            raise MlflowException(clean(exc.message), error_code=code) from None
        except Exception as exc:  # noqa: BLE001 - whatever the parser hits, the client gets a 400
            raise MlflowException(f"the request could not be read ({type(exc).__name__}); send a JSON, CSV or "
                                  "Parquet table of customers", error_code=BAD_REQUEST) from None
        if answer.status >= 400 and answer.mimetype != "application/json":  # e.g. MLflow's 415 in plain text
            text = answer.response if isinstance(answer.response, str) else answer.response.decode(errors="replace")
            return scoring_server.InvocationsResponse(json.dumps({"error_code": "BAD_REQUEST", "message": clean(text)}),
                                                      answer.status, "application/json")
        return answer

    return invocations


def install_readers(csv: Callable, parquet: Callable) -> None:
    """Make MLflow read CSV and Parquet requests with ``csv(stream)`` and ``parquet(stream)`` (the
    server and `mlflow models predict`): MLflow's CSV reader would read ids as numbers (``00123``
    becomes 123) and ``NA`` as missing; its Parquet reader expands whatever the file declares."""
    _hook("parse_csv_input", lambda original: lambda csv_input, schema=None: csv(csv_input))
    _hook("parse_parquet_input", lambda original: lambda parquet_input: parquet(parquet_input))
