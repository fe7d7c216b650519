"""params.yaml is what Hydra composes from conf/ (DVC's `dvc exp run` rewrites it that way)."""
from pathlib import Path

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from cltv.model import CLTVModel

ROOT = Path(__file__).resolve().parents[1]


def test_params_yaml_is_the_composed_config():
    with initialize_config_dir(str(ROOT / "conf"), version_base=None):
        cfg = OmegaConf.to_container(compose(config_name="config"), resolve=True)
    assert yaml.safe_load((ROOT / "params.yaml").read_text()) == cfg


def test_model_params_are_the_estimator_params():
    model = yaml.safe_load((ROOT / "params.yaml").read_text())["model"]
    # monetary_includes_first follows the data source (pipelines/common.py: model_params)
    assert set(model) == set(CLTVModel().get_params()) - {"monetary_includes_first"}
    assert model["bgnbd_penalizer"] == 0 and model["gg_penalizer"] == 0
