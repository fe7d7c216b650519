"""MLflow tracking and Model Registry: one run per new pipeline result, the champion gate."""
