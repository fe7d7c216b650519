"""Write params.yaml from conf/ exactly as `dvc exp run` does (DVC's own Hydra composer).

    python -m pipelines.compose_params [hydra overrides...]   e.g. data=cdnow_sample

An unknown group, key or value, or an interpolation such as ``${oc.env:VAR}`` (Hydra would write
the environment's value into params.yaml, and from there into MLflow), is one line on stderr,
exit code 2, and params.yaml stays as it was.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compose(overrides: list[str]) -> None:
    """params.yaml composed from conf/ with Hydra ``overrides``."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(ROOT / "params.yaml", str(ROOT / "conf"), None, "config", str(ROOT), overrides)


def main(overrides: list[str]) -> None:
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    if interpolated := [o for o in overrides if "${" in o]:
        print(f"config error: {interpolated[0]!r}: interpolations (${{...}}) are not taken: params.yaml and MLflow "
              "would record the resolved value; write the value itself", file=sys.stderr)
        sys.exit(2)
    try:
        compose(overrides)
    except (HydraException, OmegaConfBaseException) as exc:
        said = " ".join(str(exc).split()).split(" To append to your config use ")[0]  # conf/ defines every key
        print(f"config error: {' '.join(overrides)}: {said} (no such key or group in conf/)", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
