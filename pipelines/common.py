"""What every stage module shares: pinned numerics, the checked params it declares, and clean
failures.

A stage is a module run from the repository root as ``python -m pipelines.<stage>`` (dvc.yaml's
``cmd:``); its ``__main__`` block calls :func:`run`. Stages run with numpy's CPU features pinned
(:data:`PINNED_ENV`, docs/reproducibility.md): numpy picks AVX-512 code for ``log``, ``exp``,
``power``... where the CPU has it, and that code rounds differently from the code every x86-64
machine runs. numpy reads the pin once, when it is imported, so it is set where the command is
defined: every ``cmd:`` in dvc.yaml starts with it (tests/test_dvc_yaml.py checks). A stage
started without it (by hand) is relaunched once with it by :func:`run`, before any work
(:func:`pinned`); importing a stage module does nothing of the kind.
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from cltv.errors import CLTVError, ConfigError
from cltv.hyperparameters import flatten
from pipelines.config import validate

#: numpy's dispatch targets switched off in every stage, set before numpy is imported
PINNED_ENV = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
ROOT = Path(__file__).resolve().parents[1]


def declared_params(stage: str) -> list[str]:
    """The params.yaml keys that dvc.yaml lists for ``stage`` (what the stage may read)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    return [k for item in spec.get("params", []) for k in ([item] if isinstance(item, str) else item)]


def params(stage: str) -> dict:
    """The composed configuration (params.yaml, written from conf/ by Hydra), checked against the
    schema, restricted to the keys dvc.yaml declares for ``stage``: reading any other key is a
    KeyError, so dvc.yaml's list is complete by construction."""
    everything = yaml.safe_load((ROOT / "params.yaml").read_text())
    validate(everything)
    check_data_path(everything["data"]["path"])
    flat = flatten(everything)
    view = Declared(stage, "")
    for key in declared_params(stage):
        chosen = {k: v for k, v in flat.items() if k == key or k.startswith(key + ".")}
        for k, v in chosen.items():
            *parents, leaf = k.split(".")
            node = view
            for part in parents:
                node = node.setdefault(part, Declared(stage, f"{node.prefix}{part}."))
            node[leaf] = v
    return view


class Declared(dict):
    """Part of a stage's params; reading a key the stage does not declare says so."""

    def __init__(self, stage: str, prefix: str):
        super().__init__()
        self.stage, self.prefix = stage, prefix

    def __missing__(self, key):
        raise KeyError(f"stage {self.stage} reads {self.prefix}{key}, which dvc.yaml does not list in its params")


def check_data_path(path: str) -> None:
    """Refuse an input file that is a link to a file outside the repository (DVC would hash one
    file and the stage read another's changes unseen), and one that `dvc exp run` would commit
    into git (an experiment commits every untracked file a stage depends on): it must be ignored
    by git, as `dvc add` and the stages' own outputs are."""
    target = (ROOT / path).resolve()
    if not target.is_relative_to(ROOT.resolve()) and not any(target.is_relative_to(c) for c in dvc_caches()):
        raise ConfigError(f"data.path = {path!r}: a link to {target}, outside the repository; copy the file into "
                          "the repository and track it: dvc add (docs/configuration.md, \"Your own data\")")
    if not (ROOT / ".git").exists() or not (ROOT / path).exists():
        return
    ignored = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, capture_output=True).returncode == 0
    if not ignored:
        raise ConfigError(f"data.path = {path!r}: the file is not tracked by DVC, so `dvc exp run` would commit "
                          f"your data into git; track it first: dvc add {path} (docs/configuration.md, \"Your own data\")")


def dvc_caches() -> list[Path]:
    """DVC's cache folders (``cache.dir`` of .dvc/config and config.local; default .dvc/cache): a
    tracked file may be a link into one (``cache.type symlink``)."""
    import configparser

    folders = [(ROOT / ".dvc/cache").resolve()]
    for name in ("config", "config.local"):
        parser = configparser.ConfigParser()
        parser.read(ROOT / ".dvc" / name)
        if parser.has_option("cache", "dir"):
            folders.append((ROOT / ".dvc" / parser.get("cache", "dir")).resolve())
    return folders


def pipeline_outputs() -> list[str]:
    """What the pipeline itself writes into the repository: every stage output, dvc.lock, and
    params.yaml (which `dvc exp run` rewrites)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
    outs = [next(iter(o)) if isinstance(o, dict) else o for s in stages for o in s.get("outs", []) + s.get("metrics", [])]
    return [*outs, "dvc.lock", "params.yaml"]


def tracking() -> tuple[Path, str]:
    """The user's repository (also for `dvc exp run --temp/--queue`, which run in a copy) and the
    MLflow tracking URI: ``MLFLOW_TRACKING_URI``, else ``mlflow.db`` in that repository."""
    root = Path(os.environ.get("DVC_ROOT", ROOT)).resolve()
    return root, os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{root / 'mlflow.db'}"


def data_label(d: dict) -> str:
    """What the data is, in a few words: ``cdnow master``, ``transactions mydata/orders.csv``."""
    if d["source"] == "cdnow":
        return f"cdnow {d['cdnow_file']}"
    return f"{d['source']} {d['path']}" + (" (seed-compatible)" if d["source"] == "flo" and d["seed_compatible"] else "")


def fit_warnings(metrics: dict, model) -> list[str]:
    """The evaluation's and the trained model's warnings, each once, in order."""
    return list(dict.fromkeys(metrics.get("warnings", []) + model.training_.get("warnings", [])))


def pinned(module: str) -> None:
    """Return when :data:`PINNED_ENV` is in the environment; otherwise replace this process by
    ``python -m module`` (same arguments) with it, so that numpy starts pinned."""
    if all(os.environ.get(k) == v for k, v in PINNED_ENV.items()):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], {**os.environ, **PINNED_ENV})


#: what the machine refuses (not a bug): disk full, quota, file-size limit, read-only, permissions, no memory
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM,
                            errno.ENOMEM, errno.EMFILE})


def run(main: Callable[[dict], None]) -> None:
    """Run the stage whose module defines ``main`` (``python -m pipelines.<stage>``), pinned (see
    the module docstring). A bad config, bad data or a failed fit (the project's own errors,
    :class:`cltv.errors.CLTVError`) ends it with one clear line and exit code 1 (outputs are
    written atomically, so earlier ones stay intact), and so does what the machine refuses (a full
    disk, a file-size limit, no memory; Ctrl-C: exit code 130, SIGTERM: 143); any other exception is a bug and
    keeps its traceback. Arguments are refused: settings come from params.yaml, written from conf/."""
    module = sys.modules[main.__module__].__spec__.name  # pipelines.<stage>
    stage = module.rpartition(".")[2]
    if sys.argv[1:]:
        overrides = " ".join(f"-S {a}" for a in sys.argv[1:])
        print(f"error: python -m {module} takes no arguments; it reads params.yaml, which Hydra composes from conf/. "
              f"To run with these settings: dvc exp run {overrides}", file=sys.stderr)
        sys.exit(2)
    pinned(module)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past a file-size limit a write fails (OSError), not the process
    interrupted = []  # pandas' CSV reader turns a Ctrl-C inside a gzip read into a ParserError: remember it

    def on_interrupt(signum: int, frame: object) -> None:
        interrupted.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    signal.signal(signal.SIGTERM, on_interrupt)  # `kill`, a stopped queue worker: the same clean stop, no leftovers
    inputs = ""  # what the stage reads, for the out-of-memory line
    try:
        p = params(stage)
        inputs = f" reading {p['data']['path']}" if "data" in p and "path" in p["data"] else ""
        main(p)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        sys.exit(1)
    except CLTVError as exc:
        if interrupted:
            print(f"interrupted: {stage} stopped; the previous outputs are kept", file=sys.stderr)
            sys.exit(128 + interrupted[-1])
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except OSError as exc:  # the machine's, not the code's: disk full, file-size limit, permissions
        if exc.errno not in MACHINE_ERRNOS:
            raise  # e.g. a file the code names that is not there: a bug
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {stage}: {exc.strerror or exc}{where}; the previous outputs are kept", file=sys.stderr)
        sys.exit(1)
    except MemoryError:
        print(f"error: {stage}: out of memory{inputs}; the previous outputs are kept (free memory, or use "
              "engine=spark for logs larger than memory)", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print(f"interrupted: {stage} stopped; the previous outputs are kept", file=sys.stderr)
        sys.exit(128 + (interrupted[-1] if interrupted else signal.SIGINT))  # 130 for Ctrl-C, 143 for SIGTERM
