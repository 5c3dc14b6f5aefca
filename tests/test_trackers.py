"""The experiment-tracker presets (logger=mlflow, logger=wandb, logger=all) with the real packages, read back
with each tracker's own client or files, and the one line a user gets when a tracker is not installed."""

import struct
import sys
from pathlib import Path

import pytest

from tests.conftest import read_metrics, run_cli

TRAIN = ("-m", "d2lab.train", "data=airfoil", "trainer.max_epochs=2")


def mlflow_runs(log_dir: Path, experiment: str = "train") -> tuple:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{log_dir}/mlflow/mlflow.db")  # conf/logger/mlflow.yaml's store
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no MLflow experiment {experiment!r} in {log_dir}/mlflow"
    return client, client.search_runs([found.experiment_id])


def wandb_records(path: Path) -> dict:
    """An offline W&B run's records by kind. W&B writes an offline run's config, summary and history only into
    its run-<id>.wandb file, which `wandb sync` uploads: a LevelDB-format log of wandb's protobuf Records (a
    7-byte file header, then 32 KiB blocks of chunks, each with a 7-byte header: crc32, length, kind)."""
    from wandb.proto.wandb_internal_pb2 import Record

    data, found = path.read_bytes(), {}
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = 7, b""
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:  # a block's tail too short for a chunk header is padding
            pos += 32768 - pos % 32768
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = Record.FromString(pending)
            found.setdefault(record.WhichOneof("record_type"), []).append(record)
            pending = b""
    return found


def items(updates) -> dict:
    """W&B's config or summary items as {key: JSON text}; a metric's key is its one-element nested_key."""
    return {item.key or "/".join(item.nested_key): item.value_json for item in updates}


def train_with(logger: str, tmp_path) -> tuple:
    """One short run with `logger=<logger>` into tmp_path/logs: its folder and metrics.json."""
    result = run_cli(*TRAIN, f"logger={logger}", f"paths.log_dir={tmp_path}/logs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = (tmp_path / "logs" / "train" / "runs").iterdir()
    return run_dir, read_metrics(run_dir)


@pytest.mark.slow
def test_mlflow_run_logs_the_metrics_and_hyperparameters(tmp_path):
    run_dir, metrics = train_with("mlflow", tmp_path)
    client, [run] = mlflow_runs(tmp_path / "logs")
    assert run.info.status == "FINISHED" and run.info.run_name == "data=airfoil,trainer.max_epochs=2"
    assert run.data.tags["run_dir"] == str(run_dir)
    for key in ("val/loss", "test/loss", "time/fit_s"):
        assert run.data.metrics[key] == pytest.approx(metrics[key]), key
    assert run.data.metrics["val/loss_best"] == pytest.approx(metrics["best"])
    curve = client.get_metric_history(run.info.run_id, "val/loss")  # one point per epoch, as in the history
    assert [m.value for m in curve] == pytest.approx([h["val/loss"] for h in metrics["history"]])
    params = run.data.params  # the compared hyperparameters (train.log_to_trackers), as strings
    assert params["data"] == "airfoil" and params["trainer.max_epochs"] == "2"
    assert params["optimizer"] == "sgd" and float(params["optimizer.lr"]) == 0.03 and params["seed"] == "42"
    assert not (tmp_path / "mlruns").exists()  # MLflow's own default folder stays unused


@pytest.mark.slow
def test_wandb_sweep_is_one_group_of_separate_offline_runs(tmp_path, monkeypatch):
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):  # W&B's own folders, out of $HOME
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    monkeypatch.delenv("WANDB_MODE", raising=False)
    # lr 10 diverges in the first epoch: a failed job must end its W&B run too, or the next job logs into it
    sweep = tmp_path / "logs" / "lr_sweep"
    result = run_cli(
        "-m", "d2lab.train", "--multirun", *TRAIN[2:], "logger=wandb", "optimizer.lr=10,0.03",
        f"paths.log_dir={tmp_path}/logs", f"hydra.sweep.dir={sweep}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert [read_metrics(sweep / job)["status"] for job in ("0", "1")] == ["diverged", "ok"]
    runs = {}
    for job, lr in (("0", 10.0), ("1", 0.03)):
        [folder] = (sweep / job / "wandb").glob("offline-run-*")  # in the job's own folder
        assert (folder / "files" / "output.log").is_file()
        [log] = folder.glob("run-*.wandb")
        records = wandb_records(log)
        [run] = [r.run for r in records["run"]]
        assert log.name == f"run-{run.run_id}.wandb"
        assert run.run_group == "lr_sweep" and run.project == "d2lab" and run.job_type == "train"
        assert run.display_name == f"data=airfoil,optimizer.lr={lr:g},trainer.max_epochs=2"
        assert "exit" in records  # wandb.finish() ran: the run is complete on disk
        runs[job] = (run.run_id, records)
    assert runs["0"][0] != runs["1"][0]
    # the job that trained logged its compared hyperparameters and its numbers (train.log_to_trackers)
    config = {k: v for r in runs["1"][1]["config"] for k, v in items(r.config.update).items()}
    assert float(config["optimizer.lr"]) == 0.03 and config["data"] == '"airfoil"'
    summary = {k: v for r in runs["1"][1]["summary"] for k, v in items(r.summary.update).items()}
    metrics = read_metrics(sweep / "1")
    assert float(summary["val/loss"]) == pytest.approx(metrics["val/loss"])
    assert float(summary["time/fit_s"]) == pytest.approx(metrics["time/fit_s"])


@pytest.mark.slow
def test_logger_all_writes_tensorboard_csv_and_mlflow(tmp_path):
    run_dir, metrics = train_with("all", tmp_path)
    assert list((run_dir / "tensorboard").glob("*/events.out.tfevents.*"))
    csv_lines = (run_dir / "csv" / "metrics.csv").read_text().splitlines()
    assert "val/loss" in csv_lines[0].split(",") and len(csv_lines) > 2
    _, [run] = mlflow_runs(tmp_path / "logs")
    assert run.data.metrics["val/loss"] == pytest.approx(metrics["val/loss"])


def test_logger_all_composes_the_three_presets(compose_cfg):
    cfg = compose_cfg("logger=all")
    assert list(cfg.logger) == ["tensorboard", "csv", "mlflow"]
    assert cfg.logger.mlflow == compose_cfg("logger=mlflow").logger.mlflow
    assert cfg.logger.mlflow.tracking_uri == f"sqlite:///{cfg.paths.log_dir}/mlflow/mlflow.db"


def test_wandb_is_offline_and_a_single_run_has_no_group(compose_cfg):
    from hydra.utils import instantiate

    cfg = compose_cfg("logger=wandb")
    assert cfg.logger.wandb.offline is True and cfg.logger.wandb.save_dir == cfg.paths.output_dir
    assert instantiate(cfg.logger.wandb.group) is None  # not a multirun: no sweep to group by


@pytest.mark.parametrize("preset", ["mlflow", "wandb", "all"])
def test_a_tracker_not_installed_is_refused_with_how_to_install_it(compose_cfg, monkeypatch, preset):
    from d2lab.errors import ConfigError
    from d2lab.job.build import build_run

    package = "wandb" if preset == "wandb" else "mlflow"
    monkeypatch.setitem(sys.modules, package, None)  # `import <package>` now raises ImportError, as if absent
    with pytest.raises(ConfigError, match=rf"^logger\.{package} needs {package}, which is not installed") as error:
        build_run(compose_cfg(f"logger={preset}", "data=airfoil"))
    assert str(error.value).endswith("Install the trackers with: pip install -e '.[trackers]'")


@pytest.mark.slow
def test_cli_says_in_one_line_how_to_install_a_missing_tracker(tmp_path):
    # wandb is the case Lightning itself would only find once fit starts (it checks wandb's version, not its module)
    code = (
        "import sys; sys.modules['wandb'] = None; "  # `import wandb` raises ImportError, as if it were not installed
        f"sys.argv = ['d2lab.train', 'logger=wandb', 'paths.log_dir={tmp_path}/logs']; "
        "from d2lab.train import main; main()"
    )
    result = run_cli("-c", code, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "d2lab: failed: logger.wandb needs wandb, which is not installed (import of wandb halted; None in "
        "sys.modules). Install the trackers with: pip install -e '.[trackers]'"
    ]
    [run_dir] = (tmp_path / "logs" / "train" / "runs").iterdir()
    assert read_metrics(run_dir)["status"] == "failed"
