"""The project's own error types: what a user can cause from the configuration, the data or a
model file, reported in one line (the pipeline's stages, ``cltv score``) instead of a traceback.
Any other exception is a bug and keeps its traceback.

Every class derives from :class:`CLTVError`; each also derives from the built-in type that
callers caught before it existed (``ValueError``, ``RuntimeError``, ``FloatingPointError``), so
``except ValueError`` keeps working.
"""


class CLTVError(Exception):
    """Base of the project's errors: the message says what is wrong and what to do, in one line."""


class ConfigError(CLTVError, ValueError):
    """A setting is out of range or inconsistent with another; the message names the key."""


class DataError(CLTVError, ValueError):
    """Bad input data; the message names the file, the column, the rows and what was expected."""


class FitError(CLTVError, RuntimeError):
    """A model could not be fitted; the message says why and what to try."""


class ModelError(CLTVError, ValueError):
    """A saved model (or its parameters) does not fit what it is used for: another format, a kind
    its settings do not name, or a question it cannot answer."""


class NumericError(CLTVError, FloatingPointError):
    """A model's prediction is not finite for some input; the message names the first history."""


class EngineError(CLTVError, RuntimeError):
    """The engine cannot start here (e.g. Spark without a Java runtime); the message says what to install."""


class TrackingError(CLTVError, RuntimeError):
    """The MLflow store does not hold what the pipeline recorded (e.g. ``mlflow.db`` was removed);
    the message says which run is missing and how to log it again."""
