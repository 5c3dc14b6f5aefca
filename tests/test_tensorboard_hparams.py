"""TensorBoard opens on what was compared: each run's HParams session holds the keys a user compares (no
paths, `_target_` strings or callback internals), a sweep's HParams tab lists its swept keys first, run names
are the overrides, the best monitored value is a metric, and a multirun's first_step_s measures its job.
The sweep test reads TensorBoard's own HTTP API: the data the page shows."""

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from d2lab.sweeps.tensorboard_hparams import run_name
from tests.conftest import read_metrics, run_cli

REPO = Path(__file__).resolve().parents[1]
NOT_COMPARED = re.compile(r"_target_|^paths\.|^callbacks\.|^hydra\.|dirpath")


def test_a_run_writes_its_own_hparams_experiment_with_what_it_compares(train_cfg, tmp_path):
    summary, cfg = train_cfg("data=airfoil", "optimizer.lr=0.07", "trainer.max_epochs=1")
    (run,) = (tmp_path / "tensorboard").iterdir()
    assert run.name == "data=airfoil,optimizer.lr=0.07,trainer.max_epochs=1"  # the run's name: its overrides
    events = EventAccumulator(str(run))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["optimizer.lr"].number_value == pytest.approx(0.07)
    assert hparams["data"].string_value == "airfoil" and hparams["model"].string_value == "linear"
    assert {"seed", "data.batch_size", "trainer.max_epochs"} <= set(hparams)
    assert not [k for k in hparams if NOT_COMPARED.search(k)]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos][:2] == ["val/loss_best", "val/loss"]
    scalars = events.Tags()["scalars"]
    assert not [t for t in scalars if t.startswith("final/")]  # no one-point copies of the curves
    assert events.Scalars("val/loss_best")[-1].value == pytest.approx(summary["best"], rel=1e-6)
    assert events.Scalars("time/fit_s")[-1].value == pytest.approx(summary["time/fit_s"], rel=1e-6)
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"]).session_end_info
    assert end.status == 1  # STATUS_SUCCESS: the tab's Status column


def test_a_run_name_stays_one_folder():
    assert run_name("data.path=/data/my/airfoil.dat,data=airfoil") == "data.path=_data_my_airfoil.dat,data=airfoil"
    long = ",".join(f"optimizer.k{i}=0.000123456789012345" for i in range(12))
    assert len(run_name(long).encode()) < 255 and run_name(long) != run_name(long.replace("k11", "k12"))
    assert run_name("") == ""  # a run without overrides writes into tensorboard/ itself


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def get(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def tensorboard_on(tmp_path):
    """Start a real TensorBoard on 127.0.0.1 for a folder; stops exactly that process."""
    servers = []

    def start(logdir: Path, runs: int) -> str:
        port = free_port()
        command = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
                   "--port", str(port), "--reload_interval", "1"]  # fmt: skip
        servers.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if len(get(f"{url}/data/runs")) >= runs:
                    return url
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"TensorBoard at {url} did not load {runs} runs")

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_a_sweeps_hparams_tab_opens_on_the_swept_keys_and_the_best_metric(tmp_path, tensorboard_on):
    sweep = tmp_path / "sweep"
    result = run_cli(
        "-m", "d2lab.train", "-m", "data=airfoil", "optimizer=sgd,adam", "optimizer.lr=0.01,0.1",
        "trainer.max_epochs=2", f"hydra.sweep.dir={sweep}",
        cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    url = tensorboard_on(sweep, runs=5)  # the sweep's own run "." and its 4 jobs
    runs = get(f"{url}/data/runs")
    assert len(runs) == 5 and "3/tensorboard/data=airfoil,optimizer.lr=0.1,optimizer=adam,trainer.max_epochs=2" in runs

    experiment = post(f"{url}/data/plugin/hparams/experiment", {"experimentName": ""})
    names = [h["name"] for h in experiment["hparamInfos"]]
    assert names[:2] == ["optimizer", "optimizer.lr"]  # swept first: TensorBoard shows the differing ones first
    assert [h.get("differs", False) for h in experiment["hparamInfos"]][:3] == [True, True, False]
    types = {h["name"]: h["type"] for h in experiment["hparamInfos"]}
    assert types["optimizer.lr"] == "DATA_TYPE_FLOAT64" and types["optimizer.nesterov"] == "DATA_TYPE_BOOL"
    assert not [n for n in names if NOT_COMPARED.search(n)] and len(names) < 20
    metrics = [m["name"]["tag"] for m in experiment["metricInfos"]]
    assert metrics[:2] == ["val/loss_best", "val/loss"] and "time/first_step_s" in metrics

    statuses = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]  # as the page asks
    request = {"experimentName": "", "startIndex": 0, "sliceSize": 10, "allowedStatuses": statuses}
    groups = post(f"{url}/data/plugin/hparams/session_groups", request)
    sessions = [s for g in groups["sessionGroups"] for s in g["sessions"]]
    assert len(sessions) == 4
    for session in sessions:
        job = sweep / session["name"].split("/")[0]
        assert session["status"] == "STATUS_SUCCESS"
        values = {m["name"]["tag"]: m["value"] for m in session["metricValues"]}
        assert values["val/loss_best"] == pytest.approx(read_metrics(job)["best"], rel=1e-6)
        assert values["val/loss"] == pytest.approx(read_metrics(job)["val/loss"], rel=1e-6)
    first_steps = [read_metrics(sweep / str(i))["time/first_step_s"] for i in range(4)]
    assert max(first_steps[1:]) < 2.0  # the job's own start-up, not the process's age (5.4, 5.9, 6.3, 6.8 s before)
