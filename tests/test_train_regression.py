"""The training entry point on the regression half, composed from the real configs (outputs in tmp_path)."""

import math

import pytest
from hydra.errors import HydraException

from d2lab.job.record import guarded_run
from d2lab.train import train
from tests.conftest import read_metrics

QUICK = ("trainer.max_epochs=1", "~logger")


def test_default_run_is_the_books_linear_regression(train_cfg):
    summary, cfg = train_cfg()
    assert cfg.data._target_.endswith("SyntheticRegression") and cfg.model._target_.endswith("LinearNet")
    assert (cfg.optimizer.lr, cfg.data.batch_size, cfg.trainer.max_epochs) == (0.03, 10, 3)
    assert summary["w"] == pytest.approx([2.0, -3.4], abs=0.01)
    assert summary["b"] == pytest.approx(4.2, abs=0.01)
    assert summary["closed_form"]["w"] == pytest.approx([2.0, -3.4], abs=0.005)
    assert summary["closed_form_gap"] < 0.01 and summary["w_error"] < 0.01
    assert summary["epochs"] == 3 and summary["val/loss"] < 1e-3 and summary["best"] == summary["val/loss"]


@pytest.mark.parametrize("data", ["synthetic", "airfoil", "thermometer"])
@pytest.mark.parametrize("model", ["linear", "linear_scratch", "linear_scratch_manual"])
def test_every_data_and_model_learns(train_cfg, data, model):
    overrides = [f"data={data}", "trainer.max_epochs=3", "~logger", "callbacks=none"]
    overrides += ["model=linear_scratch", "model.manual_grad=true"] if model.endswith("manual") else [f"model={model}"]
    if data == "thermometer":
        overrides += ["data.input_scale=standardize", "optimizer.lr=0.1", "trainer.max_epochs=60"]
    summary, _ = train_cfg(*overrides)
    assert summary["val/loss"] < summary["closed_form"]["val/loss"] + 0.02  # near the least-squares optimum
    assert math.isfinite(summary["test/loss"])


def test_manual_grad_training_equals_autograd_training(train_cfg):
    common = ("model=linear_scratch", "trainer.max_epochs=2", "~logger", "callbacks=none")
    auto, _ = train_cfg(*common)
    manual, _ = train_cfg(*common, "model.manual_grad=true")
    assert manual["w"] == pytest.approx(auto["w"], abs=1e-5) and manual["b"] == pytest.approx(auto["b"], abs=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "sgd_scratch", "adam", "adagrad", "rmsprop", "adadelta"])
def test_every_optimizer_trains_on_airfoil(train_cfg, optimizer):
    summary, cfg = train_cfg("data=airfoil", f"optimizer={optimizer}", "trainer.max_epochs=2", *QUICK[1:])
    assert cfg.optimizer._target_.split(".")[-1] in {"SGD", "ScratchSGD", "Adam", "Adagrad", "RMSprop", "Adadelta"}
    assert summary["val/loss"] < 0.4  # ½·E[y²] = 0.5 at w = 0 on standardized targets


@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        ("constant", [1.0, 1.0, 1.0, 1.0]),
        ("exponential", [math.exp(-0.1 * t) for t in range(4)]),
        ("polynomial", [(1 + 0.1 * t) ** -0.5 for t in range(4)]),
        ("step", [1.0, 0.5, 0.25, 0.125]),
        ("cosine", [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(4)]),
    ],
)
def test_every_scheduler_sets_the_logged_lr(train_cfg, scheduler, expected):
    summary, _ = train_cfg(f"scheduler={scheduler}", "trainer.max_epochs=4", "~logger", "callbacks=none")
    assert [h["lr"] for h in summary["history"]] == pytest.approx([0.03 * f for f in expected])


def test_step_interval_schedules_per_optimizer_step(train_cfg):
    summary, _ = train_cfg(
        "scheduler=exponential", "scheduler.interval=step", "scheduler.rate=0.01", "trainer.max_epochs=2", "~logger"
    )
    steps = 80  # 800 training examples in batches of 10; a record's lr is the one in force at its validation
    expected = [0.03 * math.exp(-0.01 * steps), 0.03 * math.exp(-0.01 * 2 * steps)]
    assert [h["lr"] for h in summary["history"]] == pytest.approx(expected)
    assert [h["step"] for h in summary["history"]] == [steps, 2 * steps]


@pytest.mark.parametrize("weights_only", [True, False])
def test_weight_decay_on_weights_only_spares_the_bias(train_cfg, weights_only):
    summary, _ = train_cfg(f"task.decay_weights_only={weights_only}", "optimizer.weight_decay=10", "~logger")
    assert max(abs(w) for w in summary["w"]) < 0.5  # decayed either way
    if weights_only:
        assert summary["b"] == pytest.approx(4.2, abs=0.3)
    else:
        assert summary["b"] < 1.0


def test_thermometer_finite_blow_up_is_diverged_in_the_default_three_epochs(compose_cfg, tmp_path, capsys):
    # The book's case: unscaled input at lr 1e-2. The loss grows ~700x a step but stays finite for a dozen epochs;
    # past 1e4x the first training loss, the run is stopped and recorded diverged.
    cfg = compose_cfg("data=thermometer", "optimizer.lr=1e-2", "~logger")
    with pytest.raises(SystemExit) as exit_info:
        guarded_run(cfg, lambda record: train(cfg, record))
    assert exit_info.value.code == 1
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "diverged" and metrics["diverged_epoch"] == 1
    assert len(metrics["history"]) == metrics["diverged_epoch"]  # no record after the one that diverged
    err = capsys.readouterr().err
    assert "epoch 1" in err and "smaller learning rate" in err and "input_scale" in err
    assert "max_loss_ratio" in err


def test_without_a_ratio_only_a_non_finite_loss_counts(compose_cfg, tmp_path):
    cfg = compose_cfg(
        "data=thermometer",
        "optimizer.lr=1e-2",
        "trainer.max_epochs=100",
        "~logger",
        "callbacks.divergence.max_loss_ratio=null",
    )
    with pytest.raises(SystemExit):
        guarded_run(cfg, lambda record: train(cfg, record))
    metrics = read_metrics(tmp_path)
    # ~700x a step overflows float32 after a dozen epochs; the run stops right there.
    assert metrics["status"] == "diverged" and 5 < metrics["diverged_epoch"] < 30
    assert "NaN" in metrics["error"] or "inf" in metrics["error"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("optimizer.lr=-0.1",), "optimizer.lr=-0.1 is invalid"),
        (("optimizer=adam", "optimizer.lr=0"), "optimizer.lr=0 is invalid"),
        (("data.batch_size=0",), "data.batch_size=0 is invalid: it must be a whole number >= 1"),
        (("data=airfoil", "data.path=/no/such/airfoil.dat"), "data.path='/no/such/airfoil.dat': no such file"),
        (("data=thermometer", "data.input_scale=log"), "Valid choices: none"),
        (("scheduler.interval=batch",), "scheduler.interval='batch' is not a valid choice"),
    ],
)
def test_bad_input_gives_one_clear_message(compose_cfg, tmp_path, capsys, overrides, message):
    cfg = compose_cfg(*overrides, "~logger")
    with pytest.raises(SystemExit) as exit_info:
        guarded_run(cfg, lambda record: train(cfg, record))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert read_metrics(tmp_path)["status"] == "failed"


def test_unknown_group_choice_lists_the_valid_ones(compose_cfg):
    with pytest.raises(HydraException, match="(?s)Could not find 'model/lenett'.*linear_scratch"):
        compose_cfg("model=lenett")
