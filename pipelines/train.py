"""Stage `train`: the production model on the whole history -> models/cltv_model.json."""
import pandas as pd
from common import ROOT, run
from settings import model_params

from cltv.model import CLTVModel


def main(p: dict) -> None:
    model = CLTVModel(**model_params(p)).fit(pd.read_parquet(ROOT / "data/rfm.parquet"))
    model.save(ROOT / "models/cltv_model.json")
    print(f"train: {model.purchases_.title} {model.purchases_.params}, {model.spend_.title} {model.spend_.params}, "
          f"segment cut-offs {model.segment_cutoffs_}")


if __name__ == "__main__":
    run(main)
