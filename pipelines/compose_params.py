"""Write params.yaml from conf/ exactly as `dvc exp run` does (DVC's own Hydra composer).

    python pipelines/compose_params.py [hydra overrides...]   e.g. data=cdnow_sample
"""
import sys
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

root = Path(__file__).resolve().parents[1]
compose_and_dump(root / "params.yaml", str(root / "conf"), None, "config", str(root), sys.argv[1:])
