"""What a packaged model is, checked before anything of it runs: ``cltv score`` reads a model URI
(``models:/name@alias``, ``runs:/…``, a folder) as plain files and scores with the model JSON
inside, so no code or pickle from the package is ever loaded by it.

A cltv package (:func:`cltv.serving.pyfunc.log_model`) is "models from code": its ``MLmodel``
names MLflow's code-model loader, the models-from-code file ``model_code.py`` (ours, byte for
byte) and the artifact ``model_json``, and holds no pickled Python model. Anything else is
refused in one line before it is loaded.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from ..errors import ModelError
from ..model import CLTVModel

LOADER = "mlflow.pyfunc.loaders.code_model"
MODEL_CODE = Path(__file__).with_name("model_code.py")


def load(model_uri: str) -> CLTVModel:
    """The :class:`CLTVModel` of the packaged model at ``model_uri``, after checking that it is a
    cltv package (ModelError otherwise); MLflow only downloads its files."""
    import mlflow.artifacts
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    with tempfile.TemporaryDirectory() as tmp:
        bar = os.environ.get(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
        os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"  # errors stay one line
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp))
        finally:
            if bar is None:
                os.environ.pop(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name, None)
            else:
                os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = bar
        path = model_json(folder, model_uri)
        try:
            return CLTVModel.load(path)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # not JSON, or not the model's layout
            raise ModelError(f"{model_uri}: its model JSON cannot be read ({type(exc).__name__}: {exc})") from None


def model_json(folder: Path, label: str) -> Path:
    """The model JSON of the package in ``folder``; ModelError naming ``label`` when the folder is
    not a cltv package."""
    def refuse(why: str) -> ModelError:
        return ModelError(f"{label} is not a cltv model ({why}); cltv score loads only models the pipeline "
                          "registered (cltv.serving.log_model)")

    try:
        meta = yaml.safe_load((folder / "MLmodel").read_text())
    except (OSError, yaml.YAMLError):
        raise refuse("no readable MLmodel file") from None
    pyfunc = (meta or {}).get("flavors", {}).get("python_function") if isinstance(meta, dict) else None
    if not isinstance(pyfunc, dict) or pyfunc.get("loader_module") != LOADER:
        raise refuse("not an MLflow models-from-code package")
    if "python_model" in pyfunc or any(p.suffix in (".pkl", ".pickle") for p in folder.rglob("*")):
        raise refuse("it holds a pickled Python model")
    code = folder / "model_code.py"
    if not code.is_file() or code.read_bytes() != MODEL_CODE.read_bytes():
        raise refuse("its model code is not cltv's")
    artifact = (pyfunc.get("artifacts") or {}).get("model_json", {}).get("path")
    if not isinstance(artifact, str) or not (folder / artifact).is_file():
        raise refuse("no model JSON artifact")
    return folder / artifact
