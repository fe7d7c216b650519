"""Stage `segment`: score every customer with the trained model.

outputs/scores.csv           one row per customer (see README "Outputs")
outputs/segment_profile.csv  one row per segment, best first
"""
import pandas as pd
from common import ROOT, run

from cltv import segment
from cltv.io import write_csv
from cltv.model import CLTVModel


def main(p: dict) -> None:
    model = CLTVModel.load(ROOT / "models/cltv_model.json")
    scores = model.predict(pd.read_parquet(ROOT / "data/rfm.parquet"))
    write_csv(ROOT / "outputs/scores.csv", scores)
    write_csv(ROOT / "outputs/segment_profile.csv", segment.profile(scores, model.segment_labels))
    print(f"segment: {len(scores)} customers, " + ", ".join(
        f"{k}={v}" for k, v in scores["segment"].value_counts().reindex(model.segment_labels).fillna(0).astype(int).items()))


if __name__ == "__main__":
    run(main)
