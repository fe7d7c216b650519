"""``${oc.env:VAR}`` refused in cltv's configuration, also where DVC composes it (`dvc exp run -S`).

Hydra imports every module of the ``hydra_plugins`` namespace when it composes a configuration,
in whatever process composes it: DVC's, `python -m pipelines.compose_params`, a test. Resolved,
``${oc.env:VAR}`` would write the environment's value (a token, a home path) into params.yaml and
from there into MLflow; this module makes the resolver an error that says so. No plugin class:
Hydra only imports the module.
"""
from omegaconf import OmegaConf


def _refused(name: str, default=None):
    raise ValueError(f"${{oc.env:{name}}}: settings are not read from the environment (params.yaml and MLflow "
                     "would record its value); write the value itself")


OmegaConf.register_new_resolver("oc.env", _refused, replace=True)
