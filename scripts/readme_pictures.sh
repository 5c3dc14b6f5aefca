#!/usr/bin/env bash
# The README's sweep pictures, made again from fresh runs of the presets and their reports (about a minute on 2 cores):
#   bash scripts/readme_pictures.sh            # writes docs/img/minibatch_sgd_loss.png, minibatch_grid_heatmap.png,
#                                              # optimizers_seeds_bands.png
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

picture() {  # picture <preset> <report's file> <docs/img name>
  "$PY" -m d2lab.train experiment="$1" hydra.sweep.dir="$out/$1" >"$out/$1.log" 2>&1 ||
    { tail -n 20 "$out/$1.log" >&2; exit 1; }
  "$PY" -m d2lab.report "$out/$1" >/dev/null
  cp "$out/$1/$2" "docs/img/$3"
  echo "docs/img/$3  <- experiment=$1"
}

picture d2l_minibatch_sgd loss_curves.png minibatch_sgd_loss.png
picture d2l_minibatch_sgd_grid heatmap.png minibatch_grid_heatmap.png
picture optimizers_on_airfoil_seeds loss_curves.png optimizers_seeds_bands.png
