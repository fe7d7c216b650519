"""Stage `train`: the production model on the whole history -> models/cltv_model.json.

With data.acquired_after the models are fitted on the customers first seen after its cut-off
(cltv.data.cohort); the segment cut-offs come from every customer, as every customer is scored."""
import numpy as np

from cltv import model_effects
from cltv.data import cohort
from cltv.data.spec import DataSpec
from cltv.io import read_parquet
from cltv.model import CLTVModel
from pipelines.common import ROOT, run
from pipelines.engine import spark_session
from pipelines.settings import model_params, seasonal, with_attributes


def main(p: dict) -> None:
    d = p["data"]
    if p["engine"]["kind"] == "spark":  # only the distinct histories reach this process
        from cltv.engines import spark

        session = spark_session(p)
        model = spark.fit(CLTVModel(**model_params(p)), session.read.parquet(str(ROOT / "data/rfm.parquet")),
                          d["observation_end"], d["acquired_after"], session.read.parquet(str(ROOT / "data/customers.parquet")),
                          daily=session.read.parquet(str(ROOT / "data/daily.parquet")) if seasonal(p) else None)
        session.stop()
    else:
        table = with_attributes(p, read_parquet(ROOT / "data/rfm.parquet"))
        fitted = None if d["acquired_after"] is None else cohort.fitted(table, d["observation_end"], d["acquired_after"])
        days = read_parquet(ROOT / "data/daily.parquet") if seasonal(p) else None
        model = CLTVModel(**model_params(p)).fit(table, cohort=fitted, purchase_days=days, end=d["observation_end"])
    model.data_rules_ = DataSpec.from_config(p["data"]).to_dict()  # the rules prepare applied: cltv score uses them
    model.save(ROOT / "models/cltv_model.json")
    print(f"train: {model.purchases_.title} {model.purchases_.params}, {model.spend_.title} {model.spend_.params}, "
          f"segment cut-offs {model.segment_cutoffs_}")
    if model.season_:
        t = model.season_["test"]
        print(f"train: season {model.season_['season']['shape']}"
              f"{''.join(f' + {e}' for e in model.season_['season']['events'])}: likelihood ratio {t['lr']:.1f} on {t['df']} d.f. "
              f"(p = {t['p_value']:.3g}); " + ", ".join(f"{n} x{np.exp(d):.3g}" for n, d in
                                                       zip(model.season_["names"], model.season_["delta"])))
    for row in model_effects.effects_table(model).itertuples():
        print(f"train: {row.effect} x{row.multiplier:.3g} on {row.process} (95% {row.low:.3g}-{row.high:.3g})")


if __name__ == "__main__":
    run(main)
