"""The code MLflow logs as the packaged model ("models from code"): see :mod:`cltv.serving.pyfunc`."""
from mlflow.models import set_model

from cltv.serving.pyfunc import CLTVPyfunc

set_model(CLTVPyfunc())
