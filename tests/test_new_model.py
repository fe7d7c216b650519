"""Adding a model is one module and one config file (docs/models.md, "Adding a model"): a toy
purchase model (NBD: purchases at a gamma-distributed rate, nobody leaves) and a toy spend model
(exponential amounts with a gamma-distributed rate), written into a copy of the repository exactly
as the docs say and nowhere else, go through the config schema, fit (parameters recovered from
data simulated by their own simulators), predict with intervals, the model JSON, the packaged
pyfunc and a real `mlflow models serve`."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import requests

from benchmarks.server import serve

from .repo import copy_repo, sh

NBD = '''
"""NBD: Poisson purchases at a rate lambda ~ Gamma(r, rate alpha), nobody leaves (a toy model)."""
import numpy as np
from scipy.special import digamma, gammaln

from .counts import nbd_log_pmf, poisson_counts
from .purchase import PurchaseModel


class NBD(PurchaseModel):
    kind, title = "nbd", "NBD"
    param_names, time_params = ("r", "alpha"), ("alpha",)
    example = (0.6, 8.0)

    @staticmethod
    def objective(log_params, x, tx, T, w, penalizer, by_x):
        r, alpha = params = np.exp(log_params)
        total = w.sum()
        ll = np.sum(w * (gammaln(r + x) - gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)))
        grad = np.array([np.sum(w * (digamma(r + x) - digamma(r) + np.log(alpha) - np.log(alpha + T))),
                         np.sum(w * (r / alpha - (r + x) / (alpha + T)))])
        return float(-ll / total + penalizer * np.sum(params ** 2)), (-grad / total + 2 * penalizer * params) * params

    def prob_alive(self, x, tx, T):
        return np.ones(np.broadcast(np.asarray(x), np.asarray(tx), np.asarray(T)).shape)

    def alive_purchases(self, t, x, T):
        r, alpha = self.values
        return (r + np.asarray(x, dtype=float)) * np.asarray(t, dtype=float) / (alpha + np.asarray(T, dtype=float))

    def prob_n_purchases(self, t, n):
        return np.exp(nbd_log_pmf(*self.values, t, n))

    @staticmethod
    def sample_alive(params, x, T, weeks, rng):
        r, alpha = params.T
        return poisson_counts(rng.standard_gamma(r + x) / (alpha + T), weeks, rng)

    def simulate(self, T, rng):
        r, alpha = self.values
        x = rng.poisson(rng.gamma(r, 1.0 / alpha, T.size) * T)
        return x, np.where(x > 0, T * rng.beta(np.maximum(x, 1), 1.0), 0.0)
'''

EXPONENTIAL_GAMMA = '''
"""Exponential-Gamma: amounts ~ Exponential(rate nu), nu ~ Gamma(q, rate v) (a toy model)."""
import numpy as np
from scipy.special import digamma, gammaln

from .spend import SpendModel


class ExponentialGamma(SpendModel):
    kind, title = "exponential_gamma", "Exponential-Gamma"
    param_names = ("q", "v")
    example = (4.0, 60.0)

    @staticmethod
    def objective(log_params, x, m, w, penalizer):
        q, v = params = np.exp(log_params)
        z = x * m  # the total of x exponential amounts ~ Gamma(x, nu)
        total = w.sum()
        ll = np.sum(w * (gammaln(x + q) - gammaln(x) - gammaln(q) + q * np.log(v) + (x - 1) * np.log(z)
                         - (x + q) * np.log(v + z) + np.log(x)))
        grad = np.array([np.sum(w * (digamma(x + q) - digamma(q) + np.log(v) - np.log(v + z))),
                         np.sum(w * (q / v - (x + q) / (v + z)))])
        return float(-ll / total + penalizer * np.sum(params ** 2)), (-grad / total + 2 * penalizer * params) * params

    def expected_average_value(self, x, m):
        q, v = self.values
        usable = self.usable(x, m)
        x = np.where(usable, np.asarray(x, dtype=float), 0.0)
        return (v + np.where(usable, x * np.asarray(m, dtype=float), 0.0)) / (x + q - 1.0)

    def population_mean(self):
        q, v = self.values
        return v / (q - 1.0)

    @staticmethod
    def sample_spend(params, steps, counts, rng):
        amounts = rng.standard_gamma(np.asarray(steps, dtype=float)).T
        return np.stack([amounts / rng.standard_gamma(params[:, 0] + count) for count in counts])

    def interval_scale(self, x, m, usable):
        v = self.params["v"]
        scale = v + np.where(usable, np.asarray(x, dtype=float) * np.asarray(m, dtype=float), 0.0)
        return scale, v / scale

    def scale_ratio(self, params):
        return params[:, 1] / self.params["v"]

    def simulate(self, x, rng):
        q, v = self.values
        nu = rng.gamma(q, 1.0 / v, x.size)
        has = x > 0
        out = np.zeros(x.size)
        out[has] = rng.gamma(x[has], 1.0 / (x[has] * nu[has]))
        return out
'''

SCRIPT = textwrap.dedent('''
    import json
    import numpy as np
    from cltv.data.simulate import simulate_rfm
    from cltv.model import CLTVModel
    from cltv.models import PURCHASE_MODELS, SPEND_MODELS
    from cltv.serving.pyfunc import save_model
    import mlflow

    nbd, expgamma = PURCHASE_MODELS["nbd"], SPEND_MODELS["exponential_gamma"]
    rfm = simulate_rfm(30_000, nbd.example, expgamma.example, seed=7, purchases="nbd", spend="exponential_gamma")
    model = CLTVModel(purchases="nbd", spend="exponential_gamma").fit(rfm)
    scores = model.predict(rfm)
    model.save("toy.json")
    assert CLTVModel.load("toy.json").predict(rfm).equals(scores), "the JSON round trip changed the scores"
    save_model("toy.json", "packaged", rfm.head(3))
    request = rfm.head(200).astype({c: float for c in ("frequency", "recency", "T", "monetary_value")})
    served = mlflow.pyfunc.load_model("packaged").predict(request)
    refused = None
    try:
        CLTVModel(purchases="nbd", spend="exponential_gamma", fitter="lifetimes").fit(rfm)
    except Exception as exc:
        refused = f"{type(exc).__name__}: {exc}"
    print(json.dumps({
        "purchases": model.purchases_.values, "spend": model.spend_.values,
        "purchases_se": model.purchases_.standard_errors, "spend_se": model.spend_.standard_errors,
        "truth": [nbd.example, expgamma.example], "columns": list(scores.columns),
        "finite": bool(np.isfinite(scores.select_dtypes("number")).all().all()),
        "p_alive": [float(scores["p_alive"].min()), float(scores["p_alive"].max())],
        "clv_in_interval": float(((scores["clv_lo"] <= scores["clv"]) & (scores["clv"] <= scores["clv_hi"])).mean()),
        "span": float((scores["purchases_3m_hi"] - scores["purchases_3m_lo"]).mean()),
        "pyfunc_equal": bool(np.allclose(served["clv"], scores["clv"].head(200), rtol=1e-14, atol=0)),
        "lifetimes_refused": refused,
    }))
''')


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository with the two modules and the two config files, nothing else."""
    dest = copy_repo(tmp_path_factory.mktemp("repo"))
    (dest / "src/cltv/models/nbd.py").write_text(NBD)
    (dest / "src/cltv/models/exponential_gamma.py").write_text(EXPONENTIAL_GAMMA)
    (dest / "conf/model/purchases/nbd.yaml").write_text("kind: nbd\npenalizer: 0.0\n")
    (dest / "conf/model/spend/exponential_gamma.yaml").write_text("kind: exponential_gamma\npenalizer: 0.0\n")
    return dest


def python(repo, *args: str) -> subprocess.CompletedProcess:
    """This interpreter in ``repo`` with the copy's ``src`` first on the path."""
    return sh(repo, sys.executable, *args, env={"PYTHONPATH": str(repo / "src")})


@pytest.fixture(scope="module")
def toy(repo):
    return json.loads(python(repo, "-c", SCRIPT).stdout.strip().splitlines()[-1])


def test_the_toy_models_fit_predict_and_round_trip(toy):
    np.testing.assert_allclose(toy["purchases"], toy["truth"][0], rtol=0.08)
    np.testing.assert_allclose(toy["spend"], toy["truth"][1], rtol=0.15)
    assert all(v > 0 for v in toy["purchases_se"].values()) and all(v > 0 for v in toy["spend_se"].values())
    assert toy["finite"] and toy["p_alive"] == [1.0, 1.0]  # nobody leaves
    assert {"clv", "clv_lo", "clv_hi", "purchases_3m_lo", "segment_span"} <= set(toy["columns"])
    assert toy["clv_in_interval"] > 0.95 and toy["span"] > 0
    assert toy["pyfunc_equal"]
    assert toy["lifetimes_refused"].startswith("FitError: model.fitter = 'lifetimes': lifetimes has no NBD or "
                                               "Exponential-Gamma model"), toy["lifetimes_refused"]


def test_the_toy_models_are_served_by_a_real_server(repo, toy):
    with serve(str(repo / "packaged"), f"sqlite:///{repo}/mlflow.db", repo) as url:
        body = {"dataframe_records": [{"customer_id": "a", "frequency": 2, "recency": 30.0, "T": 40.0,
                                       "monetary_value": 55.0}]}
        resp = requests.post(f"{url}/invocations", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    answer = pd.DataFrame(resp.json()["predictions"])
    r, alpha = toy["purchases"]
    assert answer["p_alive"].iloc[0] == 1.0
    assert answer["expected_purchases_3m"].iloc[0] == pytest.approx((r + 2) * 3 * 4.345 / (alpha + 40.0), rel=1e-12)
    q, v = toy["spend"]
    assert answer["expected_value"].iloc[0] == pytest.approx((v + 110.0) / (2 + q - 1), rel=1e-12)


def test_the_config_accepts_the_toy_models_and_refuses_the_lifetimes_fitter_for_them(repo):
    python(repo, "-m", "pipelines.compose_params", "model/purchases=nbd", "model/spend=exponential_gamma")
    check = "import yaml; from pipelines.config import validate; validate(yaml.safe_load(open('params.yaml')))"
    python(repo, "-c", check)
    python(repo, "-m", "pipelines.compose_params", "model/purchases=nbd", "model.fitter=lifetimes")
    refused = sh(repo, sys.executable, "-c", check, check=False, env={"PYTHONPATH": str(repo / "src")})
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "cltv.errors.ConfigError: model.fitter = 'lifetimes': lifetimes has no NBD model; use model.fitter=fast")
