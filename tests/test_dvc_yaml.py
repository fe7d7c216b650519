"""dvc.yaml is complete and exact: every stage runs its module with numpy's CPU features pinned,
depends on the files it imports and lists the parameter keys it reads; plots are declared once
and drawn as intended."""
import ast
import json
import shlex
from pathlib import Path

import pytest
import yaml

from pipelines.common import PINNED_ENV
from pipelines.config import SCHEMA

from .repo import ROOT, sh

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _module_file(name: str) -> Path | None:
    """The project file of module ``name`` (a ``cltv`` module or one of ``pipelines``)."""
    parts = name.split(".")
    if parts[0] not in ("cltv", "pipelines"):
        return None
    base = (ROOT / "src" if parts[0] == "cltv" else ROOT) / Path(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_files(module: str) -> set[str]:
    """Every project file that running ``module`` (``python -m``) imports, transitively (imports
    inside functions and the packages' ``__init__`` included), as repository-relative paths."""
    seen: set[Path] = set()
    parts = module.split(".")
    todo = [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i])))]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        package = path.relative_to(ROOT / "src" if path.is_relative_to(ROOT / "src") else ROOT).parts[:-1]
        names = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                module_name = ".".join(p for p in (base, node.module or "") if p)
                names += [module_name, *(f"{module_name}.{alias.name}" for alias in node.names)]
        for name in names:
            parts = name.split(".")
            todo += [f for i in range(1, len(parts) + 1) if (f := _module_file(".".join(parts[:i])))]
    return {str(p.relative_to(ROOT)) for p in seen}


def _command(stage: str) -> tuple[dict, list[str]]:
    """The variables a stage's ``cmd`` sets (as the shell DVC starts reads them) and the command."""
    words = shlex.split(STAGES[stage]["cmd"])
    assignments = {}
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        key, value = words.pop(0).split("=", 1)
        assignments[key] = value
    return assignments, words


def _module(stage: str) -> str:
    env, command = _command(stage)
    assert command == ["python", "-m", f"pipelines.{stage}"], command
    return command[2]


@pytest.mark.parametrize("stage", STAGES)
def test_stage_runs_its_module_with_exactly_the_numpy_pin(stage):
    env, command = _command(stage)
    assert command == ["python", "-m", f"pipelines.{stage}"], STAGES[stage]["cmd"]
    assert env == PINNED_ENV, f"stage {stage} sets {env}, expected pipelines.common.PINNED_ENV {PINNED_ENV}"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_depends_on_exactly_the_files_it_imports(stage):
    deps = [d for d in STAGES[stage]["deps"] if not d.startswith("${")]
    code_deps = {d for d in deps if d.endswith(".py")}
    folders = [d for d in deps if (ROOT / d).is_dir()]
    imported = imported_files(_module(stage))
    missing = {f for f in imported if f not in code_deps and not any(f.startswith(d + "/") for d in folders)}
    assert not missing, f"stage {stage} imports but does not depend on {sorted(missing)}"
    assert code_deps <= imported, f"stage {stage} depends on files it never imports: {sorted(code_deps - imported)}"


@pytest.mark.parametrize("stage", STAGES)
def test_stage_lists_leaf_keys_of_the_schema(stage):
    keys = STAGES[stage].get("params", [])
    if stage == "check":  # the one stage that depends on the whole file (pipelines/check.py)
        assert keys == [{"params.yaml": None}]
        return
    assert all(k in SCHEMA for k in keys), [k for k in keys if k not in SCHEMA]  # keys, never whole groups
    assert len(keys) == len(set(keys))


def test_plots_are_the_nine_intended_ones():
    out = json.loads(sh(ROOT, "dvc", "plots", "show", "--json").stdout)["data"]
    assert sorted(out) == ["expected_purchases_grid", "p_alive_grid", "plots/backtest.csv", "plots/calibration_histogram.csv",
                           "plots/cumulative_repeat.csv", "plots/deciles.csv", "plots/holdout_by_frequency.csv",
                           "plots/holdout_pit.csv", "plots/season.csv"]
    specs = {}
    for name, entries in out.items():
        assert len(entries) == 1 and entries[0]["type"] == "vega", name  # drawn once
        specs[name] = entries[0]["content"]
        assert specs[name]["title"] and "<DVC_" not in json.dumps(specs[name]), name
    hist = specs["plots/calibration_histogram.csv"]
    rows = hist["data"]["values"]
    assert [r["repeat_purchases"] for r in rows] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    # categories on x (in file order, so 7+ stays), counts on y, observed and expected side by side
    assert hist["encoding"]["x"] == {**hist["encoding"]["x"], "field": "repeat_purchases", "type": "ordinal",
                                     "sort": None}
    assert hist["encoding"]["y"]["type"] == "quantitative" and hist["encoding"]["xOffset"]["field"] == "series"
    assert {"observed", "expected"} <= set(hist["transform"][0]["fold"])
    by_frequency = specs["plots/holdout_by_frequency.csv"]
    assert [r["frequency"] for r in by_frequency["data"]["values"]][-1] == "7+"
    tracking = specs["plots/cumulative_repeat.csv"]
    assert {r["period"] for r in tracking["data"]["values"]} == {"calibration", "holdout"}
    marks = json.dumps(tracking["layer"][1])
    assert '"rule"' in marks and "calibration" in marks
    # the purchase model over frequency x recency: one heat map per value, frequency on y
    for name, column in (("p_alive_grid", "p_alive"), ("expected_purchases_grid", "expected_purchases")):
        grid = specs[name]
        assert grid["mark"]["type"] == "rect" and grid["encoding"]["y"]["field"] == "frequency_n"
        values = [float(r[column]) for r in grid["data"]["values"]]
        assert len(values) > 100 and min(values) >= 0 and (column != "p_alive" or max(values) <= 1)
    # the randomised PIT of the holdout purchases: ten bins in order, shares summing to 1
    pit = specs["plots/holdout_pit.csv"]["data"]["values"]
    assert [r["pit"] for r in pit] == [f"{k / 10:.1f}-{(k + 1) / 10:.1f}" for k in range(10)]
    assert sum(float(r["observed"]) for r in pit) == pytest.approx(1.0)
