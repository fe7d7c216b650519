"""One data-preparation path: the ``prepare`` stage and ``cltv score`` read a file by the same
:class:`~cltv.data.spec.DataSpec`, recorded in the model JSON as ``data_rules``.

Real files (the CDNOW sample as the ``cdnow`` stage writes it, a simulated invoice-line export
with guests, cancellations, three markets and a time zone, a simulated FLO snapshot), real
models packaged as MLflow models and the real ``cltv score`` command."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cltv import serving
from cltv.cli import data_rules
from cltv.data import cdnow, prepare as prep
from cltv.data.simulate import simulate_flo, write_flo_csv
from cltv.data.simulate_invoices import simulate_invoices, write_invoices
from cltv.data.spec import PER_RUN, DataSpec
from cltv.errors import DataError
from cltv.model import CLTVModel
from cltv.schema import RFM_COLUMNS

from .repo import ROOT

RFM = ["customer_id", *RFM_COLUMNS]
#: the invoice-export settings of docs/configuration.md (as tests/test_pipeline.py runs them with dvc exp run)
RETAIL = {"path": "retail.csv", "customer_col": "Customer ID", "date_col": "InvoiceDate", "amount_col": None,
          "quantity_col": "Quantity", "price_col": "Price", "invoice_col": "Invoice",
          "cancellations": {"invoice_prefix": "C", "negative": False, "treatment": "drop"},
          "missing_customer": "drop", "timezone": "Europe/Istanbul",
          "filter": {"column": "Country", "values": ["United Kingdom"]},
          "calibration_end": "2020-09-29", "observation_end": "2021-06-30"}


def data_config(name: str, **changes) -> dict:
    """``data.*`` as Hydra composes conf/data/<name>.yaml (its defaults first), with ``changes``."""
    group = ROOT / "conf" / "data"
    own = yaml.safe_load((group / f"{name}.yaml").read_text())
    out: dict = {}
    for parent in own.pop("defaults", []):
        if parent != "_self_":
            out.update(data_config(parent))
    return {**out, **own, **changes}


def packaged(model: CLTVModel, spec: DataSpec, folder: Path) -> str:
    """``model`` with ``spec`` recorded, as the train stage saves it, packaged as an MLflow model folder."""
    model.data_rules_ = spec.to_dict()
    model.save(folder / "model.json")
    serving.save_model(folder / "model.json", folder / "mlflow_model", pd.DataFrame(
        {"customer_id": ["a"], "frequency": [2], "recency": [10.0], "T": [30.0], "monetary_value": [20.0]}))
    return str(folder / "mlflow_model")


def cltv_score(model_uri: str, path: Path, out: Path, *options: str) -> pd.DataFrame:
    proc = subprocess.run([sys.executable, "-m", "cltv.cli", "score", "--model", model_uri, "--input", str(path),
                           "--output", str(out), *options], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return pd.read_parquet(out)


# ------------------------------------------------------------------------------- the spec
@pytest.mark.parametrize("name, changes", [("cdnow", {}), ("transactions", RETAIL),
                                           ("transactions", {**RETAIL, "sheets": ["Year 2020"], "date_format": "%d/%m/%Y"}),
                                           ("flo", {"seed_compatible": True, "analysis_offset_days": 5,
                                                    "capping": {"enabled": False, "low_quantile": 0.05,
                                                                "high_quantile": 0.95, "multiplier": 2.0}})])
def test_spec_round_trips_through_json_with_the_config_keys(name, changes):
    config = data_config(name, **changes)
    spec = DataSpec.from_config(config)
    text = json.dumps(spec.to_dict())
    assert DataSpec.from_dict(json.loads(text)) == spec
    assert set(json.loads(text)) == set(config) - set(PER_RUN)  # every rule, as named in data.*, no per-run date
    assert spec.source == ("flo" if name == "flo" else "transactions")  # CDNOW is a transaction log
    assert isinstance(spec.filter_values, tuple) and DataSpec.from_dict({}) == DataSpec()


def test_spec_refuses_unknown_keys_and_values():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['cancellations.treatmnet'\]"):
        DataSpec.from_dict({"cancellations": {"treatmnet": "net"}})
    with pytest.raises(ValueError, match="cancellations.treatment 'keep'"):
        DataSpec.from_dict({"cancellations": {"treatment": "keep"}})


# --------------------------------------------------------------------------- CDNOW
@pytest.fixture(scope="module")
def cdnow_case(tmp_path_factory):
    """The CDNOW sample as the cdnow stage writes it, prepared by the cdnow config, and its model."""
    d = tmp_path_factory.mktemp("cdnow")
    tx = cdnow.load_cdnow("sample")
    raw = d / "transactions.csv"
    tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d")).to_csv(raw, index=False)
    config = data_config("cdnow")
    spec = DataSpec.from_config(config)
    out = prep.prepare(raw, spec, config["calibration_end"], config["observation_end"])
    return raw, out, packaged(CLTVModel().fit(out.rfm), spec, d), config


def test_cltv_score_on_the_cdnow_input_gives_the_prepared_rfm(cdnow_case, tmp_path):
    raw, out, uri, config = cdnow_case
    got = cltv_score(uri, raw, tmp_path / "s.parquet", "--as-of", config["observation_end"])
    pd.testing.assert_frame_equal(got[RFM], out.rfm, check_exact=True)
    assert got["customer_id"].iloc[0] == "00004"  # ids stay text


# --------------------------------------------------------------- an invoice-line export
@pytest.fixture(scope="module")
def retail_case(tmp_path_factory):
    """A simulated UCI-style export (guests, C-invoices, three markets, Istanbul time), prepared by
    the settings of docs/configuration.md, and the model trained on it with those rules recorded."""
    d = tmp_path_factory.mktemp("retail")
    lines, _ = simulate_invoices(1500, seed=1)
    raw = d / "retail.csv"
    write_invoices(lines, raw)
    config = data_config("transactions", **RETAIL)
    spec = DataSpec.from_config(config)
    out = prep.prepare(raw, spec, config["calibration_end"], config["observation_end"])
    assert min(out.quality["dropped"][k] for k in ("filtered", "missing_customer", "cancellation")) > 0
    return raw, out, packaged(CLTVModel().fit(out.rfm), spec, d), spec, config


def test_cltv_score_on_an_invoice_export_applies_the_recorded_rules(retail_case, tmp_path):
    raw, out, uri, spec, config = retail_case
    got = cltv_score(uri, raw, tmp_path / "s.parquet", "--as-of", config["observation_end"])  # no column options
    pd.testing.assert_frame_equal(got[RFM], out.rfm, check_exact=True)
    # the rules are what makes it work: today's defaults (a model without data_rules) cannot read it
    with pytest.raises(DataError, match=r"missing column\(s\) \['customer_id', 'date', 'amount'\]"):
        prep.rfm_as_of(raw, data_rules(CLTVModel()), config["observation_end"])


def test_a_named_option_overrides_one_recorded_rule(retail_case, tmp_path):
    raw, out, uri, spec, config = retail_case
    end = config["observation_end"]
    netted = cltv_score(uri, raw, tmp_path / "s.parquet", "--as-of", end, "--cancellations", "net")
    want = prep.rfm_as_of(raw, spec.replace(cancellations="net"), end)
    pd.testing.assert_frame_equal(netted[RFM], want, check_exact=True)
    assert (netted["monetary_value"] < out.rfm["monetary_value"]).any()  # returns lower the spend
    assert netted["frequency"].equals(out.rfm["frequency"])              # but keep the occasions
    # each option changes its rule only; "" switches a rule off
    model = CLTVModel()
    model.data_rules_ = spec.to_dict()
    assert data_rules(model, {"filter_column": "", "timezone": None}) == spec.replace(filter_column=None)
    everywhere = prep.rfm_as_of(raw, data_rules(model, {"filter_column": ""}), end)
    assert len(everywhere) > len(out.rfm)
    markets = prep.rfm_as_of(raw, data_rules(model, {"filter_values": ["Germany", "France"]}), end)
    assert set(markets["customer_id"]).isdisjoint(out.rfm["customer_id"])


# ------------------------------------------------------------------------------- FLO
def test_a_snapshot_is_scored_by_its_recorded_capping_and_convention(tmp_path):
    write_flo_csv(simulate_flo(800, seed=3), tmp_path / "flo.csv")
    config = data_config("flo", seed_compatible=True, capping={"enabled": False, "low_quantile": 0.01,
                                                               "high_quantile": 0.99, "multiplier": 1.5})
    spec = DataSpec.from_config(config)
    out = prep.prepare(tmp_path / "flo.csv", spec)
    model = CLTVModel()
    model.data_rules_ = spec.to_dict()
    pd.testing.assert_frame_equal(prep.rfm_as_of(tmp_path / "flo.csv", data_rules(model)), out.rfm, check_exact=True)
    old = data_rules(CLTVModel(monetary_includes_first=True), {"source": "flo"})  # a model without data_rules
    assert old == DataSpec(source="flo")  # today's defaults: capped, frequency = total orders - 1
    assert not prep.rfm_as_of(tmp_path / "flo.csv", old)["frequency"].equals(out.rfm["frequency"])
