"""A run imports torch, Lightning and its config's targets with the collector paused, then freezes them."""

import subprocess
import sys

from omegaconf import OmegaConf

from d2lab.job.imports import target_modules
from tests.conftest import REPO

CHECK = """
import gc, json
passes, young = [], []  # each pass's generation, and how many objects were new when it started
gc.callbacks.append(lambda phase, info: phase == "start" and (passes.append(info["generation"]),
                                                              young.append(gc.get_count()[0])))
from omegaconf import OmegaConf
from d2lab.job.imports import import_for_run
from d2lab.job.record import from_python
cfg = OmegaConf.create({"model": {"_target_": "d2lab.models.linear.LinearNet"}, "logger": {"_target_": "no.such.Mod"}})
token = from_python.set(FROM_PYTHON)
passes.clear(), young.clear()
import_for_run(cfg)
walked = max(young, default=0)
import sys
frozen = gc.get_freeze_count()
gc.unfreeze()
import_for_run(cfg)  # a sweep's next job: nothing new to import, so nothing of the job's is frozen
print(json.dumps({"passes": passes, "walked": walked, "enabled": gc.isenabled(), "frozen": frozen,
                  "again": gc.get_freeze_count(),
                  "imported": [m in sys.modules for m in ("torch", "lightning.pytorch", "d2lab.models.linear")]}))
"""


def run_check(from_python: bool) -> dict:
    import json

    done = subprocess.run([sys.executable, "-c", CHECK.replace("FROM_PYTHON", str(from_python))], cwd=REPO,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_command_line_run_imports_with_no_collection_and_freezes_what_it_imported():
    result = run_check(from_python=False)
    assert result["imported"] == [True, True, True]  # and the missing module is left to the code that needs it
    assert 2 not in result["passes"], result["passes"]  # no full pass over torch's objects while importing them
    # nor a young pass over all of them when the collector resumes: they are frozen first
    assert result["walked"] < 10_000, result["walked"]
    assert result["enabled"] and result["frozen"] > 100_000 and result["again"] == 0


def test_a_run_from_python_pauses_the_collector_but_freezes_nothing():
    result = run_check(from_python=True)
    assert 2 not in result["passes"] and result["enabled"] and result["frozen"] == 0


def test_target_modules_are_the_configs_targets_outside_hydra():
    model = {"_target_": "m.n.Net", "act": {"_target_": "torch.nn.ReLU"}}
    cfg = OmegaConf.create({"hydra": {"x": {"_target_": "a.B"}}, "model": model, "cbs": [{"_target_": "m.n.Net"}],
                            "plain": {"_target_": "len"}})  # fmt: skip
    assert target_modules(cfg) == ["m.n", "torch.nn"]
