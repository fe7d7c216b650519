"""The two kinds of failure a pipeline run reports in one line instead of a traceback."""


class DataError(ValueError):
    """Bad input data; the message names the file, the column, the rows and what was expected."""


class FitError(RuntimeError):
    """A model could not be fitted; the message says why and what to try."""
