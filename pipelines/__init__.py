"""Stage modules (one per DVC stage, run as ``python -m pipelines.<stage>`` by `dvc repro`) and what they share."""
