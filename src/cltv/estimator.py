"""scikit-learn's estimator protocol without importing scikit-learn.

``sklearn.base`` imports ``scipy.stats`` and costs about 0.65 s, more than the rest of a pipeline
stage's imports together (docs/benchmarks.md, "Small data"). The protocol is small: the
constructor stores its arguments under their own names, ``get_params`` and ``set_params`` read and
write them, fitted state ends in ``_``, and scikit-learn's model selection reads the tags.
:class:`Estimator` gives that, so ``sklearn.base.clone``, ``sklearn.utils.get_tags`` and
``GridSearchCV``'s parameter handling work as for a ``BaseEstimator`` (tests/test_model.py
checks them with scikit-learn itself). Not kept: scikit-learn's HTML display in notebooks.
"""
from __future__ import annotations

import inspect
from typing import Any


class Estimator:
    """get_params / set_params / repr from the constructor's signature (no ``*args``)."""

    @classmethod
    def _param_names(cls) -> list[str]:
        """The constructor's argument names, sorted (as scikit-learn lists them)."""
        return sorted(name for name, p in inspect.signature(cls.__init__).parameters.items()
                      if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's arguments as set now (``deep`` is accepted: no nested estimators)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Estimator:
        """Set constructor arguments by name; an unknown name is a ValueError naming the valid ones."""
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's default tags (its model selection reads them); imports scikit-learn only here."""
        from sklearn.base import BaseEstimator

        return BaseEstimator.__sklearn_tags__(self)

    def __repr__(self) -> str:
        defaults = {n: p.default for n, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{n}={v!r}" for n, v in self.get_params().items() if not _same(v, defaults.get(n))]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b
