"""Evaluation, prediction, reproducibility, DDP, cluster launch and clean interruption."""

import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import read_metrics, run_cli

AIRFOIL = ("data=airfoil", "trainer.max_epochs=2", "~logger")


@pytest.mark.parametrize("seed", [1, 2])
def test_same_seed_same_metrics_in_deterministic_mode(train_cfg, seed):
    runs = [train_cfg(*AIRFOIL, "trainer.deterministic=true", f"seed={s}")[0] for s in (seed, seed, seed + 10)]
    first, again, other = ({k: r[k] for k in ("w", "b", "val/loss", "train/loss")} for r in runs)
    assert first == again
    assert first["w"] != other["w"] and first["val/loss"] != other["val/loss"]


def test_submitit_slurm_launcher_composes(compose_cfg):
    cfg = compose_cfg("hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=1")
    assert cfg.hydra.launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert cfg.hydra.launcher.partition == "gpu" and cfg.hydra.launcher.gpus_per_node == 1


@pytest.mark.parametrize(("preset", "gpus"), [("slurm_cpu", None), ("slurm_gpu", 1)])
def test_slurm_presets_compose_with_their_overrides(compose_cfg, preset, gpus):
    launcher_keys = ("hydra.launcher.partition=p1", "hydra.launcher.timeout_min=7", "hydra.launcher.mem_gb=3")
    cfg = compose_cfg(
        f"hydra/launcher={preset}", *launcher_keys, "trainer=gpu", "trainer.devices=4", "+trainer.strategy=ddp"
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.d2lab_launchers.slurm_launcher.RecordingSlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.mem_gb) == ("p1", 7, 3)
    assert launcher.gpus_per_node == gpus and launcher.max_num_timeout == 3 and cfg.trainer.strategy == "ddp"


@pytest.mark.slow
def test_eval_of_a_checkpoint_equals_the_logged_test_metric_and_predicts(tmp_path):
    trained = run_cli("-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr[-2000:]
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"  # the checkpoint train tested
    evaluated = run_cli("-m", "d2lab.eval", f"ckpt_path={ckpt}", "predict=true", f"hydra.run.dir={tmp_path}/eval",
                        cwd=tmp_path)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    logged, measured = read_metrics(tmp_path / "run"), read_metrics(tmp_path / "eval")
    assert abs(measured["test/loss"] - logged["test/loss"]) < 1e-6
    rows = (tmp_path / "eval" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "prediction,target" and len(rows) == 1 + 1500

    mismatched = run_cli("-m", "d2lab.eval", f"ckpt_path={ckpt}", "data=synthetic", f"hydra.run.dir={tmp_path}/bad",
                         cwd=tmp_path)  # fmt: skip
    assert mismatched.returncode == 1 and "Traceback" not in mismatched.stderr
    assert "net.linear.weight is [1, 5] in the checkpoint but [1, 2] in the model" in mismatched.stderr


@pytest.mark.slow
def test_ddp_on_two_cpu_processes_matches_one_process(tmp_path):
    logs = tmp_path / "logs"
    ddp = run_cli("-m", "d2lab.train", *AIRFOIL, "trainer=ddp", f"paths.log_dir={logs}", cwd=tmp_path)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    single = run_cli("-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={tmp_path}/single", cwd=tmp_path)
    assert single.returncode == 0, single.stderr[-2000:]
    runs = list((logs / "train" / "runs").iterdir())
    assert len(runs) == 1 and sorted(p.name for p in logs.rglob("metrics.json")) == ["metrics.json"]
    a, b = read_metrics(runs[0]), read_metrics(tmp_path / "single")
    assert a["status"] == "ok" and a["epochs"] == 2
    assert a["w"] == pytest.approx(b["w"], abs=1e-5) and a["val/loss"] == pytest.approx(b["val/loss"], abs=1e-6)


@pytest.mark.slow
def test_ddp_spawn_inside_a_multirun(tmp_path):
    sweep = run_cli("-m", "d2lab.train", "-m", *AIRFOIL, "trainer=ddp_spawn", "optimizer.lr=0.01,0.05",
                    f"hydra.sweep.dir={tmp_path}/sweep", cwd=tmp_path, timeout=600)  # fmt: skip
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    jobs = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert [j.name for j in jobs] == ["0", "1"]
    results = [read_metrics(j) for j in jobs]
    assert [r["status"] for r in results] == ["ok", "ok"], [r.get("error") for r in results]
    assert all(r["val/loss"] < 0.3 for r in results), results


@pytest.mark.slow
def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    command = [sys.executable, "-m", "d2lab.train", "data=airfoil", "data.batch_size=1", "data.steps_per_call=1",
               "trainer.max_epochs=1000", "trainer.enable_progress_bar=false", "~logger",
               f"hydra.run.dir={run}"]  # fmt: skip
    err_file = tmp_path / "stderr.txt"
    with err_file.open("w") as err_out:
        # A shell that runs this suite in the background starts it with SIGINT ignored, and children inherit
        # that: give the child the default disposition, so Python installs its KeyboardInterrupt handler.
        process = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err_out,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.ckpt").exists() and time.monotonic() < deadline:
            time.sleep(0.2)  # wait until the first epoch is done
        process.send_signal(signal.SIGINT)
        process.wait(timeout=120)
    err = err_file.read_text()
    assert process.returncode == 130, err[-2000:]
    metrics = read_metrics(run)
    assert metrics["status"] == "interrupted" and "ckpt_path=" in metrics["error"]
    interrupted = run / "checkpoints" / "interrupted.ckpt"
    assert torch.load(interrupted, weights_only=False)["global_step"] > 1500
    assert "Traceback" not in err and f"ckpt_path={interrupted}" in err
