"""The report reads files only: importing it, and running it on real sweeps (a training sweep over seeds, a
playground sweep, an Optuna search), imports neither torch nor Lightning."""

import json
import subprocess
import sys

import pytest

from tests.conftest import run_cli

HEAVY = ("torch", "lightning", "pytorch_lightning")

# A fresh Python imports every module of d2lab.report, then runs `python -m d2lab.report <folder>` on each folder
# given (runpy is what -m uses), and prints the heavy modules that got imported.
PROBE = f"""
import importlib, json, pkgutil, runpy, sys
import d2lab.report
for module in pkgutil.iter_modules(d2lab.report.__path__):
    if module.name != "__main__":
        importlib.import_module(f"d2lab.report.{{module.name}}")
for folder in sys.argv[1:]:
    sys.argv = ["d2lab.report", folder]
    runpy.run_module("d2lab.report", run_name="__main__")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})))
"""


def heavy_modules(*folders: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *folders], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_report_imports_no_torch():
    assert heavy_modules() == []


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("report_imports")
    commands = {
        "seeds": ("d2lab.train", "-m", "trainer.max_epochs=1", "seed=0,1", "~logger"),
        "playground": ("d2lab.playground", "-m", "demo=gd_x_squared", "optimizer.lr=0.2,1.1"),
        "optuna": ("d2lab.train", "hparams_search=airfoil_optuna", "hydra.sweeper.n_trials=2", "trainer.max_epochs=1",
                   "~logger"),
    }  # fmt: skip
    for name, command in commands.items():
        result = run_cli("-m", *command, f"hydra.sweep.dir={root / name}", cwd=root)
        assert result.returncode == 0, result.stderr[-3000:]
    return root


@pytest.mark.slow
def test_reporting_real_sweeps_imports_no_torch(sweeps):
    folders = [sweeps / name for name in ("seeds", "playground", "optuna")]
    (sweeps / "playground" / "comparison.png").unlink()  # the playground's Hydra callback drew it: now the report
    assert heavy_modules(*map(str, folders)) == []
    assert (sweeps / "seeds" / "groups.md").is_file() and (sweeps / "seeds" / "loss_curves.png").is_file()
    assert (sweeps / "playground" / "comparison.png").is_file()  # drawn over the objective, with numpy
    assert (sweeps / "optuna" / "optuna_trials.png").is_file()
    for folder in folders:
        assert "\n2 jobs: " in (folder / "summary.md").read_text()
