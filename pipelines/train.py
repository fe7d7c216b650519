"""Stage `train`: the production model on the whole history -> models/cltv_model.json."""
import pandas as pd

from cltv.data.spec import DataSpec
from cltv.model import CLTVModel
from pipelines.common import ROOT, run
from pipelines.engine import spark_session
from pipelines.settings import model_params


def main(p: dict) -> None:
    if p["engine"]["kind"] == "spark":  # only the distinct histories reach this process
        from cltv.engines import spark

        session = spark_session(p)
        model = spark.fit(CLTVModel(**model_params(p)), session.read.parquet(str(ROOT / "data/rfm.parquet")))
        session.stop()
    else:
        model = CLTVModel(**model_params(p)).fit(pd.read_parquet(ROOT / "data/rfm.parquet"))
    model.data_rules_ = DataSpec.from_config(p["data"]).to_dict()  # the rules prepare applied: cltv score uses them
    model.save(ROOT / "models/cltv_model.json")
    print(f"train: {model.purchases_.title} {model.purchases_.params}, {model.spend_.title} {model.spend_.params}, "
          f"segment cut-offs {model.segment_cutoffs_}")


if __name__ == "__main__":
    run(main)
