"""Minimising a smooth objective whose analytic gradient is known, the way ``lifetimes`` does,
with a result that is the same on every machine.

``lifetimes`` runs scipy's BFGS from log-parameters 0.1 with gradient tolerance ``tol``
(max-norm). scipy's BFGS multiplies its small matrices with BLAS, whose kernel and rounding
depend on the CPU, so its path (and where it stops on a flat likelihood) differs in the last
digits between machines. :func:`minimize_bfgs` is the same method (BFGS with the inverse-Hessian
update, a line search for the strong Wolfe conditions with scipy's constants) written with
elementwise numpy and fixed-order sums (:mod:`cltv.numeric`) and Python floats: for the same
objective values the same steps, on any CPU and thread count.

Next to the optimum of a mean log-likelihood the objective changes by less than its rounding
error, so the line search can fail although the gradient is almost zero ("precision loss").
Such a stop is followed by a few Newton steps on a central-difference Hessian of the analytic
gradient, which need no objective values; the fit succeeds when the gradient then meets the
tolerance.

Where BFGS crosses the tolerance depends on its path, and a last-bit change of the data (another
summation order, as Spark's) changes the path: on a flat likelihood that moved the stop by 1e-7
relative. So a converged fit goes on by Newton steps to the gradient's rounding floor, the
optimum itself, which such changes move by about 1e-12.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..numeric import dot, matvec

Objective = Callable[..., tuple[float, np.ndarray]]
C1, C2 = 1e-4, 0.9  # sufficient decrease and curvature constants of the Wolfe conditions (scipy's)
POLISH = 0.1  # iterate on to this fraction of the tolerance while the line search still succeeds


@dataclass
class Minimum:
    """What :func:`minimize_bfgs` found, named as scipy's ``OptimizeResult`` (whose import costs
    0.14 s per process): the point ``x``, the value ``fun`` and gradient ``jac`` there, ``success``,
    ``message``, iterations ``nit``, objective calls ``nfev``, the lower Cholesky factor of the
    Hessian at the optimum (``hessian_factor``, None unless converged) and, set by a model's
    fit, ``params`` in natural units, the total ``log_likelihood`` and the estimates'
    ``covariance`` (natural units)."""
    x: np.ndarray
    fun: float
    jac: np.ndarray
    success: bool
    message: str
    nit: int
    nfev: int
    hessian_factor: np.ndarray | None = None
    params: tuple | None = None
    log_likelihood: float | None = None
    covariance: list[list[float]] | None = None


def minimize_bfgs(objective: Objective, x0: np.ndarray, args: tuple, tol: float,
                  max_iter: int | None = None, newton_start: bool = False) -> Minimum:
    """BFGS on ``objective(x, *args) -> (value, gradient)`` with gradient tolerance ``tol``
    (max-norm), then Newton polishing after a precision-loss stop. Iterations go on to
    ``POLISH * tol`` while the line search succeeds; a converged fit then takes Newton steps to
    the optimum (:func:`_refine`). ``newton_start``: the first inverse-Hessian estimate is the
    inverse of the Hessian at ``x0`` (central differences of the gradient) instead of the identity,
    for a start near the optimum. ``success`` says whether the gradient met ``tol``;
    ``x``, ``fun``, ``jac``, ``nit``, ``nfev`` and ``message`` as scipy's."""
    calls = [0]

    def f(x):
        calls[0] += 1
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            value, grad = objective(x, *args)
        return float(value), np.asarray(grad, dtype=float)

    x = np.array(x0, dtype=float)
    n = x.size
    max_iter = max_iter or 200 * n
    value, grad = f(x)
    inverse = np.eye(n)
    if newton_start and (low := _hessian_factor(f, x)) is not None:
        inverse = np.array([solve_factor(low, e) for e in np.eye(n)])
    message, it = "Maximum number of iterations has been exceeded.", 0
    for it in range(1, max_iter + 1):
        if _norm(grad) <= tol * POLISH:
            message = "Optimization terminated successfully."
            break
        direction = -matvec(inverse, grad)
        slope = dot(grad, direction)
        if not slope < 0:  # the update lost positive definiteness: restart from steepest descent
            inverse, direction = np.eye(n), -grad
            slope = dot(grad, direction)
        step = _line_search(f, x, value, grad, direction, slope)
        if step is None:
            message = ("Optimization terminated successfully (precision loss below the tolerance)."
                       if _norm(grad) <= tol else "Desired error not necessarily achieved due to precision loss.")
            break
        x_new, value, grad_new = step
        s, y = x_new - x, grad_new - grad
        x, grad = x_new, grad_new
        sy = dot(s, y)
        if sy > 0:
            rho = 1.0 / sy
            hy = matvec(inverse, y)
            inverse = (inverse - rho * (np.multiply.outer(hy, s) + np.multiply.outer(s, hy))
                       + (rho * rho * dot(y, hy) + rho) * np.multiply.outer(s, s))
    success = _norm(grad) <= tol
    if not success and np.all(np.isfinite(x)):
        polished = _newton(f, x, tol)
        if polished is not None:
            x, (value, grad) = polished, f(polished)
            success = True
            message += "; Newton steps then met the gradient tolerance"
    low = None
    if success:
        x, value, grad, low = _refine(f, x, value, grad)
    return Minimum(x=x, fun=value, jac=grad, success=success, message=message, nit=it, nfev=calls[0],
                   hessian_factor=low)


def _norm(grad: np.ndarray) -> float:
    return float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else float("inf")


def _line_search(f, x, value, grad, direction, slope, max_steps: int = 40):
    """A step length meeting the strong Wolfe conditions along ``direction`` (Nocedal & Wright,
    algorithms 3.5 and 3.6, bisection in the zoom); ``(x, value, gradient)`` there, or None."""
    def at(t):
        xt = x + t * direction
        vt, gt = f(xt)
        return xt, vt, gt, dot(gt, direction)

    lo, lo_value, hi = 0.0, value, None
    t = 1.0
    for _ in range(max_steps):
        xt, vt, gt, st = at(t)
        if not np.isfinite(vt) or vt > value + C1 * t * slope or (lo > 0 and vt >= lo_value):
            hi = t
        elif abs(st) <= -C2 * slope:
            return xt, vt, gt
        else:
            if st * ((t * 2.0 if hi is None else hi) - t) >= 0:  # past the minimum along the line
                hi = lo
            lo, lo_value = t, vt
        t = t * 2.0 if hi is None else (lo + hi) / 2.0
        if hi is not None and abs(hi - lo) <= 1e-12 * max(1.0, lo):
            return None
    return None


def _hessian_factor(f, x: np.ndarray) -> list[list[float]] | None:
    """The Cholesky factor of the Hessian at ``x`` from central differences of the analytic
    gradient; None when that Hessian is not positive definite."""
    h = 1e-5 * np.maximum(1.0, np.abs(x))
    cols = [(f(x + hi * e)[1] - f(x - hi * e)[1]) / (2 * hi) for hi, e in zip(h, np.eye(x.size))]
    hess = np.array(cols)
    return cholesky((hess + hess.T) / 2)


def _newton_step(f, x: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """The Newton step ``H^-1 grad`` at ``x`` (see :func:`_hessian_factor`), or None."""
    low = _hessian_factor(f, x)
    return None if low is None else solve_factor(low, grad)


def _newton(f, x: np.ndarray, tol: float, steps: int = 8) -> np.ndarray | None:
    """Newton iterations from ``x``; the point where the gradient max-norm is <= ``tol``, or None
    if that is not reached."""
    for _ in range(steps):
        grad = f(x)[1]
        if _norm(grad) <= tol:
            return x
        step = _newton_step(f, x, grad)
        if step is None:
            return None
        x = x - step
        if not np.all(np.isfinite(x)):
            return None
    return x if _norm(f(x)[1]) <= tol else None


def _refine(f, x: np.ndarray, value: float, grad: np.ndarray, steps: int = 8):
    """Newton steps from a converged point while each at least halves the gradient's max-norm:
    the optimum to the gradient's rounding floor. Where BFGS stopped depends on its path, which
    rounding-level changes of the data (another summation order) change; the optimum moves only
    by about those changes. The Hessian of the start serves every step (the point moves by about
    1e-7), so a step costs one gradient. Returns ``(x, value, grad)`` of the last point and the
    Hessian's Cholesky factor (None when it is not positive definite)."""
    low = _hessian_factor(f, x)
    for _ in range(steps if low is not None else 0):
        x_new = x - solve_factor(low, grad)
        value_new, grad_new = f(x_new)
        if not _norm(grad_new) <= _norm(grad) / 2:
            break
        x, value, grad = x_new, value_new, grad_new
    return x, value, grad, low


def cholesky(matrix: np.ndarray) -> list[list[float]] | None:
    """The lower Cholesky factor in Python floats (the matrices here are 3x3 or 4x4, and LAPACK's
    result would depend on the CPU); None unless ``matrix`` is finite and positive definite."""
    a = [[float(v) for v in row] for row in matrix]
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            s = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if not (s > 0 and np.isfinite(s)):
                    return None
                low[i][i] = s ** 0.5
            else:
                low[i][j] = s / low[j][j]
    return low


def solve_positive_definite(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """``matrix^-1 rhs`` by :func:`cholesky`; None unless ``matrix`` is finite and positive definite."""
    low = cholesky(matrix)
    return None if low is None else solve_factor(low, rhs)


def solve_factor(low: list[list[float]], rhs: np.ndarray) -> np.ndarray:
    """``(L L^T)^-1 rhs`` for a lower Cholesky factor ``low``, in Python floats."""
    n = len(low)
    y = [0.0] * n
    for i in range(n):
        y[i] = (float(rhs[i]) - sum(low[i][k] * y[k] for k in range(i))) / low[i][i]
    out = [0.0] * n
    for i in reversed(range(n)):
        out[i] = (y[i] - sum(low[k][i] * out[k] for k in range(i + 1, n))) / low[i][i]
    return np.array(out)


def natural_covariance(inverse, theta: np.ndarray, k: int) -> np.ndarray | None:
    """The covariance of (parameters in natural units, coefficients) from ``inverse``, the inverse
    Hessian of the total negative log-likelihood in ``theta`` = (k log-parameters, coefficients),
    by the delta method; None when it is not finite."""
    inverse = np.asarray(inverse, dtype=float)
    if not np.all(np.isfinite(inverse)):
        return None
    jac = np.concatenate([np.exp(theta[:k]), np.ones(theta.size - k)])  # d natural / d theta
    cov = inverse * np.multiply.outer(jac, jac)
    return (cov + cov.T) / 2.0


def inverse_from_factor(factor: list[list[float]], total: float) -> np.ndarray:
    """The inverse Hessian of a *total* objective from the Cholesky factor of its *mean*'s Hessian
    (``Minimum.hessian_factor`` of :func:`minimize_bfgs`), ``total`` the sum of the weights."""
    return np.array([solve_factor(factor, e) for e in np.eye(len(factor))]) / total


def covariance(gradient: Callable[[np.ndarray], np.ndarray], log_params: np.ndarray,
               step: float = 1e-4) -> np.ndarray | None:
    """Covariance of maximum-likelihood estimates in natural units: the inverse Hessian of the
    *total* negative log-likelihood at ``exp(log_params)``, given ``gradient`` (its gradient in
    log-parameters). The log-parameter Hessian comes from central differences of the analytic
    gradient (error about ``step**2``); with theta = exp(phi),
    d2/dphi_i dphi_j = theta_i theta_j d2/dtheta_i dtheta_j + [i = j] theta_i d/dtheta_i.
    None when the Hessian is not positive definite (a parameter at a boundary)."""
    phi = np.asarray(log_params, dtype=float)
    n = phi.size
    with np.errstate(all="ignore"):
        cols = [(gradient(phi + step * e) - gradient(phi - step * e)) / (2.0 * step) for e in np.eye(n)]
        h_phi = np.array(cols)
        h_phi = (h_phi + h_phi.T) / 2.0
        theta = np.exp(phi)
        hessian = (h_phi - np.diag(gradient(phi))) / np.multiply.outer(theta, theta)
    columns = [solve_positive_definite(hessian, e) for e in np.eye(n)]
    if any(c is None for c in columns) or not np.all(np.isfinite(columns)):
        return None
    cov = np.array(columns)
    return (cov + cov.T) / 2.0


def total_log_likelihood(unpenalised: Objective, log_params: np.ndarray, total: float) -> float:
    """The total log-likelihood at ``log_params``, from ``unpenalised(log_params) -> (mean negative
    log-likelihood, its gradient)`` over data of ``total`` weight."""
    return -unpenalised(log_params)[0] * total


def estimates_covariance(unpenalised: Objective, log_params: np.ndarray, total: float) -> list[list[float]] | None:
    """:func:`covariance` at ``log_params`` of the data behind ``unpenalised`` (as for
    :func:`total_log_likelihood`), as plain lists; None when not positive definite."""
    cov = covariance(lambda p: unpenalised(p)[1] * total, log_params)
    return None if cov is None else cov.tolist()
