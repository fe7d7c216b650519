"""Time-invariant covariates in every model: a customer's parameters are the population's scaled
by ``exp(±z·gamma)``, with ``z`` the customer's covariates (:mod:`cltv.covariates`) and ``gamma``
one coefficient per effect and process.

Each model says which of its parameters a process scales, and in which direction, in its
``links`` (Fader & Hardie 2007, "Incorporating time-invariant covariates into the Pareto/NBD and
BG/NBD models", as CLVTools implements it; docs/models.md):

- purchases: ``alpha_i = alpha exp(-z gamma)`` (BG/NBD, MBG/NBD, Pareto/NBD), so the mean
  purchase rate ``r / alpha_i`` is ``exp(z gamma)`` times the reference customer's;
- dropout: Pareto/NBD ``beta_i = beta exp(-z gamma)`` (the mean dropout rate ``s / beta_i`` times
  ``exp(z gamma)``); BG/NBD and MBG/NBD ``a_i = a exp(z gamma)``, ``b_i = b exp(z gamma)`` (one
  coefficient for both, the note's choice: the mean dropout probability ``a / (a + b)`` stays, its
  spread across customers shrinks as ``exp(z gamma)`` grows);
- spend: Gamma-Gamma ``v_i = v exp(z gamma)``, so the mean spend per purchase
  ``p v_i / (q - 1)`` is ``exp(z gamma)`` times the reference customer's.

The likelihood is each model's per-row log-likelihood (its ``rows``) at the per-row parameters,
summed over distinct (history, covariates) rows with their counts as weights; the gradient in
(log-parameters, gamma) follows exactly by the chain rule. With every gamma 0 it is the model
without covariates. A fitted model holds ``effects`` (process -> effect -> gamma) and the
covariance of (parameters, gammas); :meth:`~cltv.models.base.ParametricModel.at` gives the
plain model of one customer (parameters and covariance by the delta method), so prediction and
intervals run per distinct covariate row unchanged.
"""
from __future__ import annotations

import numpy as np

from ..numeric import dot, matvec
from .mle import inverse_from_factor, minimize_bfgs, natural_covariance, solve_positive_definite
from .tuples import distinct as distinct_rows

PROCESSES = ("purchases", "dropout", "spend")  # the order of the effects in a parameter vector


def compact(design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A design as (its distinct rows, each row's position among them): products with it then
    cost one pass over the few distinct rows (customers share few covariate rows)."""
    values, inverse, _ = distinct_rows(*design.T)
    return np.column_stack(values), inverse


def _times(design, gamma: np.ndarray) -> np.ndarray:
    """``z gamma`` per row of a design (a matrix, or :func:`compact`'s pair)."""
    if isinstance(design, tuple):
        return matvec(design[0], gamma)[design[1]]
    return matvec(design, gamma)


def _pulled(design, v: np.ndarray) -> np.ndarray:
    """``z^T v`` of a design (a matrix, or :func:`compact`'s pair): sums per distinct row first."""
    if isinstance(design, tuple):
        return matvec(design[0].T, np.bincount(design[1], weights=v, minlength=len(design[0])))
    return matvec(design.T, v)


def _width(design) -> int:
    return (design[0] if isinstance(design, tuple) else design).shape[1]


def shifts(model, designs: dict, gammas: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per parameter of ``model`` (a class) with an effect: ``sign * z gamma`` summed over the
    processes linked to it, per row of the ``designs`` (process -> matrix, rows = customers, or
    :func:`compact`'s pair)."""
    out: dict[str, np.ndarray] = {}
    for process in PROCESSES:
        if process in designs:
            zg = _times(designs[process], gammas[process])
            for name, sign in model.links[process]:
                out[name] = out.get(name, 0.0) + sign * zg
    return out


def _split(model, theta: np.ndarray, designs: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(log-parameters, process -> gammas) of a parameter vector."""
    k = len(model.param_names)
    gammas, at = {}, k
    for process in PROCESSES:
        if process in designs:
            n = _width(designs[process])
            gammas[process], at = theta[at:at + n], at + n
    return theta[:k], gammas


def by_count(x: np.ndarray, designs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(a representative row of each distinct (x, covariates), each row's representative): rows
    that share them share every term of a likelihood without recency, age or spend, which the
    models' ``rows`` then compute once."""
    _, back, counts = distinct_rows(x, *(c for p in PROCESSES if p in designs for c in designs[p].T))
    rep = np.empty(counts.size, dtype=np.intp)
    rep[back] = np.arange(back.size)
    return rep, back


def objective(theta: np.ndarray, model, columns: tuple, w: np.ndarray, designs: dict[str, np.ndarray],
              penalizer: float, by: tuple | None = None) -> tuple[float, np.ndarray]:
    """The weighted mean negative log-likelihood of ``model`` (a class) with covariates (plus
    ``penalizer`` times the sum of the squared parameters, not the gammas) and its gradient in
    ``theta`` = (log-parameters, gammas in :data:`PROCESSES` order)."""
    log_base, gammas = _split(model, theta, designs)
    base = np.exp(log_base)
    moved = shifts(model, designs, gammas)
    params = [np.exp(lb + moved[name]) if name in moved else b
              for name, lb, b in zip(model.param_names, log_base, base)]
    ll, grads = model.rows(params, *columns, by=by)
    total = w.sum()
    per_log = {name: w * g * p for name, g, p in zip(model.param_names, grads, params)}  # d ll / d log param, per row
    grad = [float(np.sum(per_log[name])) for name in model.param_names]
    for process in PROCESSES:
        if process in designs:
            pull = sum(sign * per_log[name] for name, sign in model.links[process])
            grad.extend(_pulled(designs[process], pull))
    grad = -np.array(grad) / total
    grad[:base.size] += 2.0 * penalizer * base * base
    return float(-dot(w, ll) / total + penalizer * np.sum(base ** 2)), grad


def distinct(columns: tuple, designs: dict[str, np.ndarray], weights) -> tuple[tuple, dict[str, np.ndarray], np.ndarray]:
    """The distinct rows of (columns, designs) with their total weights (default 1 per row)."""
    names = [p for p in PROCESSES if p in designs]
    table = [np.asarray(c, dtype=float) for c in columns] + [c for p in names for c in designs[p].T]
    w = np.ones(table[0].size) if weights is None else np.asarray(weights, dtype=float)
    values, inverse, _ = distinct_rows(*table)
    counts = np.bincount(inverse, weights=w, minlength=values[0].size)
    at, out = len(columns), {}
    for p in names:
        out[p], at = np.column_stack(values[at:at + designs[p].shape[1]]), at + designs[p].shape[1]
    return tuple(values[:len(columns)]), out, counts


def fit(start, columns: tuple, designs: dict[str, np.ndarray], names: dict[str, list[str]], weights=None,
        penalizer: float = 0.0, tol: float = 1e-7):
    """``(model or None, optimiser result)``: ``start`` (the model fitted without covariates, an
    instance) refitted with the effects ``names`` (process -> effect names, the designs'
    columns), from its parameters and gammas 0. Purchase models (columns x, tx, T) are fitted
    with time rescaled so that max T = 1, as without covariates. The result's
    ``log_likelihood`` is the total in the data's units (as the models' ``log_likelihood``)."""
    model = type(start)
    designs = {p: np.asarray(designs[p], dtype=float) for p in PROCESSES if p in designs and len(names[p])}
    columns, designs, w = distinct(columns, designs, weights)
    time_scale = 1.0
    if getattr(model, "time_params", ()):
        x, tx, T = columns
        time_scale = 1.0 / T.max()
        columns = (x, tx * time_scale, T * time_scale)
    scaled = [v * time_scale if k in getattr(model, "time_params", ()) else v for k, v in start.params.items()]
    theta0 = np.concatenate([np.log(scaled)] + [np.zeros(designs[p].shape[1]) for p in PROCESSES if p in designs])
    by = by_count(columns[0], designs)
    designs = {p: compact(d) for p, d in designs.items()}
    result = minimize_bfgs(objective, theta0, (model, columns, w, designs, penalizer, by), tol, newton_start=True)
    if not result.success:
        return None, result
    log_base, gammas = _split(model, result.x, designs)
    params = {k: float(np.exp(v) / (time_scale if k in getattr(model, "time_params", ()) else 1.0))
              for k, v in zip(model.param_names, log_base)}
    effects = {p: dict(zip(names[p], (float(g) for g in gammas[p]))) for p in PROCESSES if p in designs}
    fitted = model(params, effects=effects)
    if time_scale != 1.0:
        x, tx, T = columns
        columns = (x, tx / time_scale, T / time_scale)
    near = result.hessian_factor if penalizer == 0 else None  # the optimum's Hessian, from the last Newton steps
    fitted.covariance = covariance(fitted, columns, designs, w, by, near)
    result.log_likelihood = -objective(_theta(fitted), model, columns, w, designs, 0.0, by)[0] * w.sum()
    return fitted, result


def _theta(fitted) -> np.ndarray:
    """(log-parameters, gammas) of a fitted model, in the objective's order."""
    return np.concatenate([np.log(fitted.values)] + [np.array(list(fitted.effects[p].values()))
                                                      for p in PROCESSES if p in fitted.effects])


def covariance(fitted, columns: tuple, designs: dict[str, np.ndarray], w: np.ndarray, by: tuple | None = None,
               factor: list | None = None, step: float = 1e-4) -> list[list[float]] | None:
    """Covariance of (parameters in natural units, gammas): the inverse Hessian of the total
    negative log-likelihood (central differences of the exact gradient in (log-parameters,
    gammas), then the delta method for the parameters); None when not positive definite."""
    model = type(fitted)
    theta = _theta(fitted)
    total = w.sum()

    def gradient(t):
        return objective(t, model, columns, w, designs, 0.0, by)[1] * total

    n, k = theta.size, len(model.param_names)
    if factor is not None:  # ``factor``: the Cholesky factor of the mean objective's Hessian at the optimum
        columns_inv = inverse_from_factor(factor, total)
    else:
        with np.errstate(all="ignore"):
            cols = [(gradient(theta + step * e) - gradient(theta - step * e)) / (2.0 * step) for e in np.eye(n)]
        hessian = (np.array(cols) + np.array(cols).T) / 2.0
        columns_inv = [solve_positive_definite(hessian, e) for e in np.eye(n)]
        if any(c is None for c in columns_inv):
            return None
    cov = natural_covariance(columns_inv, theta, k)
    return None if cov is None else cov.tolist()
