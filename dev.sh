#!/usr/bin/env bash
# One entry point for a fresh machine: builds the project-local .venv from
# requirements.lock (pinned) when it is missing or out of date, then
#   ./dev.sh repro [dvc repro args]   runs the pipeline (dvc repro)
#   ./dev.sh test  [pytest args]      runs the test suite
#   ./dev.sh bench [args]             runs the scale benchmark (benchmarks/scale.py)
#   ./dev.sh bench-models [args]      purchase models against lifetimes (benchmarks/models.py)
#   ./dev.sh bench-spark [args]       pandas against Spark local[2] on 10M transactions (benchmarks/spark.py)
#   ./dev.sh bench-backtest [args]    evaluate with 1 and with k origins (benchmarks/backtest.py)
#   ./dev.sh bench-covariates [args]  the fit with and without covariates, lifetimes beside (benchmarks/covariates.py)
#   ./dev.sh bench-season [args]      the fit with and without a season, lifetimes beside (benchmarks/season.py)
#   ./dev.sh bench-small [args]       dvc exp run on a 5,000-customer export, a lifetimes script beside (benchmarks/small.py)
#   ./dev.sh env                      only installs
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
stamp=.venv/.installed
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)

if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "dev.sh: installing pinned packages into .venv (first run takes about 2 minutes)" >&2
    rm -rf .venv
    "$PYTHON" -m venv .venv
    if ! { .venv/bin/python -m pip install --disable-pip-version-check -r requirements.lock &&
           .venv/bin/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .; \
         } > .venv/install.log 2>&1; then
        grep -v "is ignored: it is neither" .venv/install.log | tail -30 >&2
        echo "dev.sh: install failed (full log: .venv/install.log)" >&2
        exit 1
    fi
    echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    repro) exec dvc repro "$@" ;;
    test)  exec python -m pytest "$@" ;;
    bench) exec python -m benchmarks.scale "$@" ;;
    bench-models) exec python -m benchmarks.models "$@" ;;
    bench-spark) exec python -m benchmarks.spark "$@" ;;
    bench-backtest) exec python -m benchmarks.backtest "$@" ;;
    bench-covariates) exec python -m benchmarks.covariates "$@" ;;
    bench-season) exec python -m benchmarks.season "$@" ;;
    bench-small) exec python -m benchmarks.small "$@" ;;
    env)   ;;
    *) echo "usage: ./dev.sh repro|test|bench|bench-models|bench-spark|bench-backtest|bench-covariates|bench-season|bench-small|env [args]" >&2; exit 2 ;;
esac
