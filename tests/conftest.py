import pandas as pd
import pytest

from cltv.data import cdnow, rfm
from cltv.model import CLTVModel

CAL_END, OBS_END = "1997-09-30", "1998-06-30"


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
