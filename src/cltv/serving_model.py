"""The code MLflow logs as the packaged model ("models from code"): see :mod:`cltv.serving`."""
from mlflow.models import set_model

from cltv.serving import CLTVPyfunc

set_model(CLTVPyfunc())
