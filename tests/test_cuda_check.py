"""On a machine without a GPU, a run puts back torch's cached CUDA check, which Lightning's import replaced."""

import json
import subprocess
import sys

import pytest

SCRIPT = """
import json, os, sys
import lightning, torch
import d2lab

seen = {"after_import": os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK"), "gpus": torch.cuda.device_count()}

class SeeCheck(lightning.Callback):
    def on_train_start(self, trainer, pl_module):
        seen["in_run"] = os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK")

run = d2lab.run("data=airfoil", "optimizer=adam", "trainer.max_epochs=1", "~logger", "hydra.run.dir=" + sys.argv[1],
                "+callbacks.see._target_=__main__.SeeCheck", print_config=False)
print(json.dumps({**seen, "status": run.status}))
"""


@pytest.mark.slow
def test_a_run_without_gpus_uses_torchs_cached_cuda_check(tmp_path):
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / "run")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["after_import"] == "1"  # what Lightning's import sets, and the reason for d2lab.job.cuda_check
    assert seen["status"] == "ok"
    # Where a GPU is visible, Lightning's fork-safe check stays.
    assert seen["in_run"] == ("0" if seen["gpus"] == 0 else "1")
