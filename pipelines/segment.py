"""Stage `segment`: score every customer with the trained model (engine=spark: with
mlflow.pyfunc.spark_udf of the packaged model, in Spark).

outputs/scores.csv           one row per customer (see README "Outputs")
outputs/segment_profile.csv  one row per segment, best first
"""
import os
import tempfile
from pathlib import Path

import pandas as pd
from common import ROOT, run
from engine import spark_session

from cltv import segment
from cltv.io import write_csv
from cltv.model import CLTVModel


def main(p: dict) -> None:
    model = CLTVModel.load(ROOT / "models/cltv_model.json")
    if p["engine"]["kind"] == "spark":
        scores = spark_scores(p, model)
    else:
        scores = model.predict(pd.read_parquet(ROOT / "data/rfm.parquet"))
    write_csv(ROOT / "outputs/scores.csv", scores)
    write_csv(ROOT / "outputs/segment_profile.csv", segment.profile(scores, model.segment_labels))
    print(f"segment: {len(scores)} customers, " + ", ".join(
        f"{k}={v}" for k, v in scores["segment"].value_counts().reindex(model.segment_labels).fillna(0).astype(int).items()))


def spark_scores(p: dict, model: CLTVModel) -> pd.DataFrame:
    """The scores of ``spark_udf`` of the packaged stage model, by customer id, as pandas'."""
    from cltv.engines import spark
    from cltv.serving import save_model

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    session = spark_session(p)
    with tempfile.TemporaryDirectory() as tmp:
        table = session.read.parquet(str(ROOT / "data/rfm.parquet"))
        save_model(ROOT / "models/cltv_model.json", Path(tmp) / "model", table.limit(3).toPandas())
        scores = spark.score(session, str(Path(tmp) / "model"), table).orderBy("customer_id").toPandas()
    session.stop()
    columns = list(model.predict(scores.head(1)[["customer_id", "frequency", "recency", "T", "monetary_value"]]).columns)
    scores["segment"] = pd.Categorical(scores["segment"], categories=list(model.segment_labels))
    return scores[columns]


if __name__ == "__main__":
    run(main)
