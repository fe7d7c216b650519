"""The run `mlflow run` opens, when another run holds its result (see pipelines/mlflow_project.py)."""
from __future__ import annotations

from ..errors import TrackingError
from .registry import Registry, logged_run, store


def point_project_run(registry: Registry, fp: str) -> str | None:
    """Make the run `mlflow run` opened (``registry.project_run_id``) say where its result is, when
    the result was logged in another run (the project run is in another experiment, or nothing
    changed since an earlier run): the result run's name with "(unchanged)" or "(logged in
    experiment ...)", tags ``cltv.result_run_id`` and ``cltv.model_version``, a note. Returns what
    it said, or None when the project run holds the result itself; a :class:`TrackingError` when
    no finished run of the store holds it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(registry.tracking_uri)
    client = MlflowClient()
    with store(registry.tracking_uri):
        exp = client.get_experiment_by_name(registry.experiment)
        done = logged_run(client, exp.experiment_id, fp) if exp else None
    if done is None:
        raise TrackingError(f"no finished run in experiment '{registry.experiment}' of {registry.tracking_uri} holds "
                            f"this result (fingerprint {fp[:12]}); log it again with `dvc repro -f -s register`")
    if done.info.run_id == registry.project_run_id:
        return None
    project = client.get_run(registry.project_run_id).info
    unchanged = done.info.start_time < project.start_time  # logged before this `mlflow run` began
    version = done.data.tags.get("cltv.model_version", "")
    text = (f"The result of this `mlflow run` is run {done.info.run_id} ('{done.info.run_name}') in experiment "
            f"'{registry.experiment}', registered as '{registry.model_name}' version {version}"
            + ("; nothing changed since, so nothing was logged again." if unchanged else
               "; run `mlflow run` with --experiment-name " f"{registry.experiment} to log results into the run itself."))
    suffix = "unchanged" if unchanged else f"logged in experiment '{registry.experiment}'"
    client.set_tag(registry.project_run_id, "mlflow.runName", f"{done.info.run_name} ({suffix})")
    for key, value in (("cltv.result_run_id", done.info.run_id), ("cltv.model_version", version),
                       ("mlflow.note.content", text)):
        client.set_tag(registry.project_run_id, key, value)
    return text
