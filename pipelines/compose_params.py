"""Write params.yaml from conf/ exactly as `dvc exp run` does (DVC's own Hydra composer).

    python -m pipelines.compose_params [hydra overrides...]   e.g. data=cdnow_sample
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def compose(overrides: list[str]) -> None:
    """params.yaml composed from conf/ with Hydra ``overrides``."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(ROOT / "params.yaml", str(ROOT / "conf"), None, "config", str(ROOT), overrides)


if __name__ == "__main__":
    compose(sys.argv[1:])
