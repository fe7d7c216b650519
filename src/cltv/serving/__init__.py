"""The model as MLflow packages and serves it: :mod:`cltv.serving.pyfunc` (the pyfunc model, its
signature and request rules, logging), :mod:`cltv.serving.http_guard` (what `mlflow models serve`
lacks: body limit, clean 4xx, CSV ids as text), :mod:`cltv.serving.model_code` (the
models-from-code file)."""
from .pyfunc import (MAX_BODY, MAX_ROWS, PACKAGE_DIR, CLTVPyfunc, RequestError, log_model, save_model, score,
                     signature)

__all__ = ["MAX_BODY", "MAX_ROWS", "PACKAGE_DIR", "CLTVPyfunc", "RequestError", "log_model", "save_model", "score",
           "signature"]
