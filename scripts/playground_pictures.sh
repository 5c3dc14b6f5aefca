#!/usr/bin/env bash
# Regenerate the playground pictures under docs/img/ (the README shows them). Runs land in a scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
out=$(mktemp -d)
run() { "$PY" -m d2lab.playground "$@" >/dev/null 2>&1 || true; }  # a diverged job exits 1 by design
run demo=gd_x_squared hydra.run.dir="$out/gd_x_squared"
run demo=gd_2d hydra.run.dir="$out/gd_2d"
run demo=gd_x_squared_lrs hydra.sweep.dir="$out/gd_x_squared_lrs"
run demo=newton_x_cos_lrs hydra.sweep.dir="$out/newton_x_cos_lrs"
run demo=sgd_2d_schedules hydra.sweep.dir="$out/sgd_2d_schedules"
mkdir -p docs/img
cp "$out/gd_x_squared/trajectory.png" docs/img/playground_gd_x2.png
cp "$out/gd_2d/trajectory.png" docs/img/playground_2d.png
cp "$out/gd_x_squared_lrs/comparison.png" docs/img/playground_lr_sweep.png
cp "$out/newton_x_cos_lrs/comparison.png" docs/img/playground_newton_x_cos.png
cp "$out/sgd_2d_schedules/comparison.png" docs/img/playground_sgd_schedules.png
rm -rf "$out"
ls -l docs/img/playground_*.png
