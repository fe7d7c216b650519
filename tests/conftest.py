import os

import pandas as pd
import pytest
from hypothesis import settings

from cltv.data import cdnow, rfm
from cltv.model import CLTVModel

CAL_END, OBS_END = "1997-09-30", "1998-06-30"

# CI explores the same examples every run (a red run can be rerun and bisected); a developer's
# runs draw new ones, which is how the corners get found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


#: the longest modules (real `dvc repro`s, Spark, servers; see --durations), queued first: with
#: --dist loadfile --no-loadscope-reorder (pyproject.toml) xdist queues modules in this order, so
#: the two workers end together
LONGEST_FIRST = ("test_pipeline.py", "test_spark.py", "test_pipeline_logs.py", "test_sweep.py", "test_workspace.py",
                 "test_serving.py", "test_reproducible.py", "test_faults.py", "test_tracking.py", "test_new_model.py")


def pytest_collection_modifyitems(items: list) -> None:
    rank = {name: k for k, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each module keeps its order


@pytest.fixture(scope="session")
def sample_daily() -> pd.DataFrame:
    return rfm.daily_purchases(cdnow.load_cdnow("sample"))


@pytest.fixture(scope="session")
def sample_ch(sample_daily) -> pd.DataFrame:
    """CDNOW sample: calibration RFM (39 weeks) + holdout actuals (weeks 40-78)."""
    return rfm.calibration_holdout(sample_daily, CAL_END, OBS_END)


@pytest.fixture(scope="session")
def sample_model(sample_ch) -> CLTVModel:
    return CLTVModel(clv_months=12).fit(sample_ch)
