"""Stage `segment`: score every customer with the trained model (engine=spark: with
mlflow.pyfunc.spark_udf of the packaged model, in Spark).

outputs/scores.parquet       one row per customer (docs/outputs.md); engine=spark: a folder
                             of Parquet part files written by the executors, sorted by customer
outputs/scores.csv           the same rows as CSV, for the report and spreadsheets
outputs/segment_profile.csv  one row per segment, best first
"""
import os
import tempfile
from pathlib import Path

import pandas as pd

from cltv import model_effects, segment
from cltv.io import read_parquet, write_csv, write_parquet
from cltv.model import CLTVModel
from pipelines.common import ROOT, run
from pipelines.engine import spark_session
from pipelines.settings import with_attributes


def main(p: dict) -> None:
    model = CLTVModel.load(ROOT / "models/cltv_model.json")
    if p["engine"]["kind"] == "spark":
        scores = spark_scores(p, model)
    else:
        scores = model.predict(with_attributes(p, read_parquet(ROOT / "data/rfm.parquet")))
        write_parquet(ROOT / "outputs/scores.parquet", scores)
    write_csv(ROOT / "outputs/scores.csv", scores)
    write_csv(ROOT / "outputs/segment_profile.csv", segment.profile(scores, model.segment_labels))
    print(f"segment: {len(scores)} customers, " + ", ".join(
        f"{k}={v}" for k, v in scores["segment"].value_counts().reindex(model.segment_labels).fillna(0).astype(int).items()))


def spark_scores(p: dict, model: CLTVModel) -> pd.DataFrame:
    """The scores of ``spark_udf`` of the packaged stage model, written by Spark to
    ``outputs/scores.parquet`` (part files sorted by customer id, columns as
    :meth:`CLTVModel.predict` orders them), read back as pandas'."""
    from cltv.engines import spark
    from cltv.serving import save_model

    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    session = spark_session(p)
    with tempfile.TemporaryDirectory() as tmp:
        table = session.read.parquet(str(ROOT / "data/rfm.parquet"))
        names = model_effects.attribute_names(model)
        if names:  # the covariates' columns, joined in Spark
            customers = session.read.parquet(str(ROOT / "data/customers.parquet")).select("customer_id", *names)
            table = table.join(customers, "customer_id", "left")
        example = table.limit(3).toPandas()
        columns = list(model.predict(example).columns)
        save_model(ROOT / "models/cltv_model.json", Path(tmp) / "model", example)
        # sorted before scoring, which keeps the ranges and sorts each by customer: an orderBy of
        # the scores would run the scoring twice (once to sample the ranges)
        table = table.orderBy("customer_id")
        scored = spark.score(session, str(Path(tmp) / "model"), table, names).select(*columns)
        spark.write_parquet(scored, ROOT / "outputs/scores.parquet")
    session.stop()
    scores = read_parquet(ROOT / "outputs/scores.parquet")
    scores["segment"] = pd.Categorical(scores["segment"], categories=list(model.segment_labels))
    return scores


if __name__ == "__main__":
    run(main)
