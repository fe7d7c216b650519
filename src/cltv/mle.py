"""Minimising a smooth objective whose analytic gradient is known, the way ``lifetimes`` does.

``lifetimes`` runs scipy's BFGS from log-parameters 0.1 with gradient tolerance ``tol`` and
gives up when BFGS stops on "precision loss": next to the optimum of a mean log-likelihood
the objective changes by less than its rounding error, so the line search fails although the
gradient is almost zero. Here such a stop is followed by a few Newton steps on a
finite-difference Hessian of the analytic gradient, which need no objective values; the fit
succeeds when the gradient then meets the tolerance.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, minimize

Objective = Callable[..., tuple[float, np.ndarray]]


def minimize_bfgs(objective: Objective, x0: np.ndarray, args: tuple, tol: float) -> OptimizeResult:
    """BFGS on ``objective(x, *args) -> (value, gradient)`` with gradient tolerance ``tol``
    (max-norm), then Newton polishing after a precision-loss stop. ``success`` says whether the
    gradient met ``tol``."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        result = minimize(objective, x0, args=args, jac=True, method="BFGS", tol=tol)
        if not result.success and np.all(np.isfinite(result.x)):
            x = _newton(objective, result.x, args, tol)
            if x is not None:
                result.x, (result.fun, result.jac) = x, objective(x, *args)
                result.success = True
                result.message += "; Newton steps then met the gradient tolerance"
    return result


def _newton(objective: Objective, x: np.ndarray, args: tuple, tol: float, steps: int = 8) -> np.ndarray | None:
    """Newton iterations from ``x`` with a central-difference Hessian of the gradient; the point
    where the gradient max-norm is <= ``tol``, or None if that is not reached."""
    for _ in range(steps):
        grad = objective(x, *args)[1]
        if np.max(np.abs(grad)) <= tol:
            return x
        h = 1e-5 * np.maximum(1.0, np.abs(x))
        cols = [(objective(x + hi * e, *args)[1] - objective(x - hi * e, *args)[1]) / (2 * hi)
                for hi, e in zip(h, np.eye(x.size))]
        hess = np.array(cols)
        hess = (hess + hess.T) / 2
        if not np.all(np.isfinite(hess)) or np.min(np.linalg.eigvalsh(hess)) <= 0:
            return None
        x = x - np.linalg.solve(hess, grad)
        if not np.all(np.isfinite(x)):
            return None
    return x if np.max(np.abs(objective(x, *args)[1])) <= tol else None
