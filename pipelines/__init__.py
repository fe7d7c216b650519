"""Stage entry points (one per DVC stage) and what they share; run by `dvc repro`, not imported."""
