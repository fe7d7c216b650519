"""The configuration: params.yaml is what Hydra composes from conf/, every key has a type and a
range, and a bad value stops a stage before any work with one line naming the key."""
import copy
import re
import sys

import pytest
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from cltv import hyperparameters
from cltv.errors import CLTVError, DataError
from cltv.model import CLTVModel
from pipelines.config import SCHEMA, ConfigError, flatten, validate

from .repo import ROOT, committed, copy_repo, sh

PYTHON = sys.executable
DATA_SOURCES = sorted(p.stem for p in (ROOT / "conf/data").glob("*.yaml") if p.stem != "base")


def composed(*overrides: str) -> dict:
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        return OmegaConf.to_container(compose(config_name="config", overrides=list(overrides)), resolve=True)


def test_params_yaml_is_the_composed_config():
    assert yaml.safe_load(committed("params.yaml")) == composed()  # not a `dvc exp run`'s workspace


@pytest.mark.parametrize("source", DATA_SOURCES)
def test_every_key_of_every_data_source_has_a_schema(source):
    params = composed(f"data={source}")
    assert set(flatten(params)) == set(SCHEMA)
    if source != "transactions":  # the own-log template points at a file the user provides
        validate(params)


def test_model_params_are_the_estimator_params():
    model = yaml.safe_load(committed("params.yaml"))["model"]
    # monetary_includes_first follows the data source (cltv.hyperparameters.monetary_includes_first);
    # the purchase and spend models are groups with a kind and a penalizer each
    kwargs = hyperparameters.from_config(model, monetary_includes_first=False)
    assert set(kwargs) == set(CLTVModel().get_params())
    CLTVModel(**kwargs)  # accepted as they are
    # and back: the fitted model's settings under the names `dvc params diff` shows
    settings = {k: v for k, v in kwargs.items() if k != "monetary_includes_first"}
    assert hyperparameters.to_config(settings) == flatten({"model": model})
    assert [hyperparameters.monetary_includes_first(*case) for case in
            (("flo", False), ("flo", True), ("cdnow", False), ("transactions", False))] == [True, False, False, False]
    assert model["purchases"] == {"kind": "bgnbd", "penalizer": 0} and model["spend"] == {"kind": "gamma_gamma",
                                                                                          "penalizer": 0}


def test_model_groups_offer_every_registered_model():
    from cltv.models import PURCHASE_MODELS, SPEND_MODELS
    from pipelines.config import PURCHASE_MODELS as CONFIG_PURCHASES
    from pipelines.config import SPEND_MODELS as CONFIG_SPEND

    assert sorted(p.stem for p in (ROOT / "conf/model/purchases").glob("*.yaml")) == sorted(PURCHASE_MODELS) \
        == sorted(CONFIG_PURCHASES)
    assert sorted(p.stem for p in (ROOT / "conf/model/spend").glob("*.yaml")) == sorted(SPEND_MODELS) == \
        sorted(CONFIG_SPEND)
    for kind in PURCHASE_MODELS:
        params = composed(f"model/purchases={kind}")
        validate(params)
        assert params["model"]["purchases"] == {"kind": kind, "penalizer": 0.0}


def test_seed_compatible_mode_needs_the_flo_preset():
    validate(composed("data=flo", "data.seed_compatible=true", "model=flo_original"))
    with pytest.raises(ConfigError, match=r"data.seed_compatible = True: .*model.purchases.penalizer = 0.0, "
                                          r"model.spend.penalizer = 0.0.*-S model=flo_original"):
        validate(composed("data=flo", "data.seed_compatible=true"))
    with pytest.raises(ConfigError, match=r"model.purchases.kind = 'paretonbd'"):
        validate(composed("data=flo", "data.seed_compatible=true", "model=flo_original", "model/purchases=paretonbd"))


def test_the_spark_engine_reads_logs_not_snapshots_nor_workbooks():
    validate(composed("engine=spark"))
    validate(composed("engine=spark", "engine.master=spark://head:7077", "engine.driver_memory=8g"))
    with pytest.raises(ConfigError, match=r"engine.kind = 'spark': a FLO snapshot .* use -S engine=pandas"):
        validate(composed("engine=spark", "data=flo"))
    validate(composed("engine=spark", "data.invoice_col=Invoice", "data.missing_customer=drop",
                      "data.cancellations.invoice_prefix=C", "data.timezone=Europe/Istanbul"))
    validate(composed("engine=spark", "data.cancellations.treatment=net"))
    with pytest.raises(ConfigError, match=r"data.sheets = \[2010\]: the Spark reader reads CSV and Parquet, not Excel"):
        validate(composed("engine=spark", "data.sheets=[2010]"))


def _with(params: dict, key: str, value) -> dict:
    out = copy.deepcopy(params)
    *parents, leaf = key.split(".")
    node = out
    for part in parents:
        node = node[part]
    node[leaf] = value
    return out


@pytest.mark.parametrize("key,value", [(k, v) for k, spec in SCHEMA.items() for v in spec.bad])
def test_a_bad_value_of_each_key_is_refused_naming_the_key(key, value):
    with pytest.raises(ConfigError) as err:
        validate(_with(composed(), key, value))
    assert str(err.value).startswith(key) and "expected" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("key,value,expected", [
    ("model.typo", 1, "model.typo: unknown key"),
    ("data.observation_end", "1997-01-01", "data.calibration_end = '1997-09-30': expected a day before"),
    ("data.calibration_end", None, "data.calibration_end: a transaction log needs a date"),
    ("data.acquired_after", "1997-09-30", "data.acquired_after = '1997-09-30': expected a day before "
                                          "data.calibration_end (1997-09-30)"),
    ("data.quantity_col", "Quantity", "data.amount_col = 'amount' while data.quantity_col / data.price_col are set: "
                                      "for quantity x unit price set data.amount_col=null"),
    ("evaluate.count", 4, "evaluate.count / evaluate.spacing_weeks: the origin 1998-06-30 with its holdout to "
                          "1998-06-30 does not end on or before data.observation_end (1998-06-30)"),
    ("evaluate.holdout_weeks", 40, "the origin 1997-09-30 with its holdout to 1998-07-07 does not end on or before"),
    ("evaluate.origins", ["1997-06-30", "1998-07-31"], "evaluate.origins: the origin 1998-07-31"),
])
def test_unknown_keys_and_inconsistent_values_are_refused(key, value, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        validate(_with(composed(), key, value))


def test_covariates_run_on_both_engines_and_first_purchase_columns_only_for_logs():
    covariates = _with(composed(), "model.covariates.purchases", ["first_purchase_amount"])
    validate(_with(covariates, "engine.kind", "spark"))
    validate(_with(covariates, "data.first_purchase", ["Country"]))
    with pytest.raises(ConfigError, match="covariates need model.fitter=fast"):
        validate(_with(covariates, "model.fitter", "lifetimes"))
    with pytest.raises(ConfigError, match="data.first_purchase = \\['Country'\\]: a FLO snapshot has no purchase log"):
        validate(_with(_with(composed(), "data.source", "flo"), "data.first_purchase", ["Country"]))


def test_a_season_needs_a_log_and_no_covariates():
    season = _with(composed(), "model.season.shape", "months")
    validate(season)
    validate(_with(_with(season, "model.season.shape", "fourier"), "model.season.harmonics", 6))
    validate(_with(season, "model.purchases.kind", "paretonbd"))
    validate(_with(season, "engine.kind", "spark"))
    for key, value, words in [("data.source", "flo", "a FLO snapshot has no purchase days"),
                              ("model.covariates.purchases", ["x"], "a season with covariates is not supported yet")]:
        with pytest.raises(ConfigError, match=words):
            validate(_with(season, key, value))
    with pytest.raises(ConfigError, match="model.season.harmonics = 7: expected"):
        validate(_with(composed(), "model.season.harmonics", 7))


def test_the_cohort_rule_takes_a_day_or_weeks_and_only_for_logs():
    for value in (None, 13, 0, "1997-02-15"):
        validate(_with(composed(), "data.acquired_after", value))
    flo = _with(_with(composed(), "data.source", "flo"), "data.acquired_after", 13)
    with pytest.raises(ConfigError, match="data.acquired_after: a rule for transaction logs"):
        validate(flo)
    early = _with(_with(composed(), "evaluate.origins", ["1997-03-31", "1997-09-30"]), "data.acquired_after", "1997-05-01")
    with pytest.raises(ConfigError, match=re.escape("expected a day before the first origin (1997-03-31")):
        validate(early)


def test_a_snapshot_keeps_the_single_split():
    validate(_with(_with(composed(), "data.source", "flo"), "evaluate.spacing_weeks", 4))  # unused, harmless
    for key, value in (("evaluate.count", 2), ("evaluate.origins", ["2021-01-01"]), ("evaluate.holdout_weeks", 13)):
        with pytest.raises(ConfigError, match="a snapshot has no holdout to backtest on"):
            validate(_with(_with(composed(), "data.source", "flo"), key, value))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_repo(tmp_path_factory.mktemp("repo"))


@pytest.mark.parametrize("override,expected", [
    ("model.discount_rate=-2", "model.discount_rate = -2: expected a number >= 0 and < 1"),
    ("model.horizons_months=3", "model.horizons_months = 3: expected a list of 1 to 12 distinct horizons"),
    ("model.purchases.penalizer=abc", "model.purchases.penalizer = 'abc': expected a number >= 0 and <= 100"),
    ("model.segment_labels=[A,A,B]", "model.segment_labels = ['A', 'A', 'B']: expected a list of 1 to 26 distinct"),
    ("registry.champion_metric=maee", "registry.champion_metric = 'maee': expected one of ['mae', 'rmse'"),
])
def test_stage_stops_before_any_work_with_one_line(repo, override, expected):
    sh(repo, PYTHON, "-m", "pipelines.compose_params", override)
    proc = sh(repo, PYTHON, "-m", "pipelines.train", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith(f"config error: {expected}") and proc.stderr.count("\n") == 1
    assert not (repo / "models/cltv_model.json").exists()


@pytest.mark.parametrize("override,expected", [
    ("nosuchgroup=x", "Could not override 'nosuchgroup'"),
    ("model.purchase.penalizer=0.01", "Could not override 'model.purchase.penalizer'"),
    ("model/purchases=nosuchmodel", "nosuchmodel"),
    ("registry.experiment=${oc.env:HOME}", "interpolations"),
    ("model.discount_rate=[1,", "model.discount_rate=[1,"),
])
def test_composing_params_with_a_bad_override_is_one_line_and_changes_nothing(repo, override, expected):
    before = (repo / "params.yaml").read_bytes()
    proc = sh(repo, PYTHON, "-m", "pipelines.compose_params", override, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("config error: ") and proc.stderr.count("\n") == 1
    assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert (repo / "params.yaml").read_bytes() == before


def test_an_environment_value_never_reaches_params_yaml(repo):
    """`dvc exp run -S 'x=${oc.env:VAR}'`: DVC composes it with Hydra, which refuses the resolver
    (src/hydra_plugins/cltv_no_env.py); params.yaml stays as it was."""
    before = (repo / "params.yaml").read_bytes()
    proc = sh(repo, "dvc", "exp", "run", "-S", "registry.experiment=${oc.env:CLTV_SECRET}", check=False,
              env={"CLTV_SECRET": "s3cr3t"})
    assert proc.returncode != 0 and "settings are not read from the environment" in proc.stderr + proc.stdout
    assert (repo / "params.yaml").read_bytes() == before and b"s3cr3t" not in (repo / "params.yaml").read_bytes()


def test_stage_run_by_hand_refuses_arguments_and_names_the_command(repo):
    before = (repo / "metrics/evaluation.json").read_bytes()
    proc = sh(repo, PYTHON, "-m", "pipelines.evaluate", "model.purchases.penalizer=0.01", check=False)
    assert proc.returncode == 2 and (repo / "metrics/evaluation.json").read_bytes() == before
    assert "dvc exp run -S model.purchases.penalizer=0.01" in proc.stderr and proc.stderr.count("\n") == 1


def test_exp_run_with_a_bad_override_fails_in_the_first_stage(repo):
    proc = sh(repo, "dvc", "exp", "run", "-S", "model.discount_rate=-2", check=False)
    assert proc.returncode != 0
    assert "config error: model.discount_rate = -2" in proc.stderr + proc.stdout
    assert "Running stage 'prepare'" not in proc.stdout  # the first stage to run stopped it


@pytest.mark.parametrize("error,out", [
    (ConfigError("model.fitter = 'x': expected one of ['fast', 'lifetimes']"), "config error: model.fitter = 'x'"),
    (DataError("data/tx.csv: column 'amount': non-numeric amount at line 5"), "error: data/tx.csv: column"),
])
def test_only_the_projects_errors_end_a_stage_with_one_line(monkeypatch, capsys, error, out):
    """pipelines.common.run: a project error (cltv.errors.CLTVError) is one line and exit 1; any
    other exception is a bug and keeps its traceback."""
    from pipelines import common

    assert isinstance(error, CLTVError) and issubclass(ConfigError, CLTVError)
    monkeypatch.setattr(sys, "argv", ["-m"])
    monkeypatch.setattr(common, "params", lambda stage: {})
    for key, value in common.PINNED_ENV.items():
        monkeypatch.setenv(key, value)

    def main(p):
        raise error

    with pytest.raises(SystemExit) as stop:
        common.run(main)
    err = capsys.readouterr().err
    assert stop.value.code == 1 and err.startswith(out) and err.count("\n") == 1

    def buggy(p):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        common.run(buggy)
