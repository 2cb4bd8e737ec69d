#!/usr/bin/env bash
# Every consortium-scale target (start-up, create, verify, pipeline) in one run, with the time it took.
# Each script prints min / median / max and the ratio to its floor measured in the same run.
# Run: bench/targets.sh [runs]   (default 5; at least 5 medians per figure)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
py=.venv/bin/python
export PYTHONPATH=src
started=$SECONDS
step() {
    local t=$SECONDS
    echo "== $*"
    "$py" "$@"
    echo "   ($((SECONDS - t)) s)"
}
step bench/bench_startup.py "$((runs < 9 ? 9 : runs))"
step bench/bench_render.py --create "$runs"
step bench/bench_verify.py 100,1000 "$runs"
step bench/bench_pipeline.py --many "$runs" 100,300
echo "== all targets in $((SECONDS - started)) s"
