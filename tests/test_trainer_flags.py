"""Lightning's Trainer flags mean what Lightning's docs say on every task, counted in minibatches and optimizer steps.

Regression runs group minibatches into one Lightning step (data.steps_per_call=auto); a flag counted in batches
switches the run to one minibatch per step (see d2lab.tasks.grouped), so the counts below are the same for both tasks.
"""

import csv
import logging

import lightning as L
import pytest
import torch

from tests.fashion_idx import write_fake_fashion_mnist

# airfoil at batch 10: 150 minibatches per epoch; fake Fashion-MNIST: 58 training images at batch 8: 8 per epoch
TASKS = {
    "regression": (("data=airfoil", "data.batch_size=10", "optimizer.lr=0.01"), 150),
    "classification": (
        ("data=fashion_mnist", "model=lenet", "data.batch_size=8", "data.eval_batch_size=32", "optimizer.lr=0.01"),
        8,
    ),
}
QUIET = ("callbacks=none", "trainer.max_epochs=2")


@pytest.fixture(params=sorted(TASKS))
def task_run(request, train_cfg, tmp_path):
    """Run one task with extra overrides; returns (summary, minibatches per epoch)."""
    overrides, per_epoch = TASKS[request.param]
    if request.param == "classification":
        write_fake_fashion_mnist(tmp_path / "data")

    def run(*extra: str) -> tuple[dict, int]:
        logger = () if any(e.startswith("logger=") for e in extra) else ("~logger",)
        summary, _ = train_cfg(*overrides, *QUIET, *logger, *extra)
        return summary, per_epoch

    run.kind = request.param
    return run


def validations(summary: dict) -> list[int]:
    return [h["step"] for h in summary["history"] if "val/loss" in h]


def test_limit_train_batches_counts_minibatches(task_run):
    summary, _ = task_run("+trainer.limit_train_batches=5")
    assert summary["steps"] == 10 and validations(summary) == [5, 10]


def test_limit_train_batches_fraction_of_the_minibatches(task_run):
    summary, per_epoch = task_run("+trainer.limit_train_batches=0.5")
    assert summary["steps"] == 2 * int(per_epoch * 0.5)


def test_overfit_batches_trains_on_the_same_few_minibatches(task_run):
    summary, _ = task_run("+trainer.overfit_batches=2", "trainer.max_epochs=3")
    assert summary["steps"] == 6 and validations(summary) == [2, 4, 6]


def test_val_check_interval_counts_minibatches(task_run):
    summary, per_epoch = task_run("+trainer.val_check_interval=2", "trainer.max_epochs=1")
    assert validations(summary) == list(range(2, per_epoch + 1, 2))
    assert len({h["examples"] for h in summary["history"]}) == len(summary["history"])  # one point per validation


def test_val_check_interval_fraction_of_an_epoch(task_run):
    summary, per_epoch = task_run("+trainer.val_check_interval=0.5", "trainer.max_epochs=1")
    assert validations(summary) == [per_epoch // 2, per_epoch]


def test_check_val_every_n_epoch(task_run):
    summary, per_epoch = task_run("trainer.check_val_every_n_epoch=2", "trainer.max_epochs=4")
    assert validations(summary) == [2 * per_epoch, 4 * per_epoch]
    assert [h["epoch"] for h in summary["history"]] == [0, 1, 2, 3]  # epochs without validation keep train/*


def test_max_steps_counts_optimizer_steps(task_run):
    summary, per_epoch = task_run("trainer.max_steps=5", "trainer.max_epochs=-1")
    assert summary["steps"] == 5


def test_accumulate_grad_batches_steps_once_per_n_minibatches(task_run):
    summary, per_epoch = task_run("+trainer.accumulate_grad_batches=2", "trainer.max_epochs=1")
    assert summary["steps"] == per_epoch // 2


@pytest.mark.parametrize("algorithm", ["norm", "value"])
def test_gradient_clipping_changes_the_result(task_run, algorithm):
    clipped, _ = task_run("+trainer.gradient_clip_val=0.001", f"+trainer.gradient_clip_algorithm={algorithm}")
    free, _ = task_run()
    assert clipped["steps"] == free["steps"] and clipped["train/loss"] != free["train/loss"]


@pytest.mark.parametrize("precision", ["64", "bf16-mixed"])
def test_precision(task_run, precision):
    summary, per_epoch = task_run(f"+trainer.precision={precision}")
    assert summary["steps"] == 2 * per_epoch and summary["val/loss"] == summary["val/loss"]


def test_max_time_stops_a_long_run(task_run):
    summary, _ = task_run("trainer.max_epochs=100000", "+trainer.max_time=00:00:00:03")
    assert 0 < summary["time/fit_s"] < 30 and summary["epochs"] < 100000


def test_early_stopping_stops_on_the_monitored_metric(task_run):
    es = "+callbacks.early_stopping"
    summary, _ = task_run(
        "trainer.max_epochs=200",
        f"{es}._target_=lightning.pytorch.callbacks.EarlyStopping",
        f"{es}.monitor=val/loss",
        f"{es}.patience=1",
        f"{es}.min_delta=0.5",  # nothing improves this much: stops after patience + 1 validations
    )
    assert summary["epochs"] == 2


def test_log_every_n_steps_counts_optimizer_steps(task_run, tmp_path):
    summary, per_epoch = task_run("logger=csv", "trainer.log_every_n_steps=3")
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    logged = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert logged == list(range(3, 2 * per_epoch + 1, 3))


def test_learning_rate_monitor_logs_every_step(task_run, tmp_path):
    lr = "+callbacks.lr_monitor"
    summary, per_epoch = task_run(
        "logger=csv",
        "trainer.log_every_n_steps=1",
        "scheduler=exponential",
        "scheduler.interval=step",
        f"{lr}._target_=lightning.pytorch.callbacks.LearningRateMonitor",
        f"{lr}.logging_interval=step",
    )
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    assert len([r for r in rows if r.get("lr-SGD")]) == 2 * per_epoch


def test_a_flag_counted_in_batches_turns_the_grouped_path_off_and_says_so(train_cfg, caplog):
    with caplog.at_level(logging.INFO, logger="d2lab"):
        summary, _ = train_cfg("data=airfoil", *QUIET, "~logger", "+trainer.val_check_interval=50")
    assert "trainer.val_check_interval=50 counts minibatches" in caplog.text
    assert validations(summary) == [50, 100, 150, 200, 250, 300]


def test_the_grouped_path_keeps_flags_it_honours(train_cfg, caplog):
    with caplog.at_level(logging.INFO, logger="d2lab"):
        summary, _ = train_cfg(
            "data=airfoil", *QUIET, "~logger", "trainer.max_steps=200", "trainer.check_val_every_n_epoch=1"
        )
    assert "grouped fast path is off" not in caplog.text
    assert summary["steps"] == 200 and validations(summary) == [150, 200]


@pytest.mark.parametrize("data", ["synthetic", "airfoil", "thermometer"])
def test_debug_limit_and_overfit_do_what_they_say_on_regression_data(train_cfg, data):
    limited, _ = train_cfg(f"data={data}", "~logger", "debug=limit", "callbacks=none")
    per_epoch = {"synthetic": 80, "airfoil": 150, "thermometer": 1}[data]
    assert limited["steps"] == 2 * min(5, per_epoch)
    overfit, _ = train_cfg(f"data={data}", "~logger", "debug=overfit", "callbacks=none", "trainer.max_epochs=4")
    assert overfit["steps"] == 4 * min(3, per_epoch)


@pytest.mark.parametrize("flag", ["+trainer.gradient_clip_val=1.0", "+trainer.accumulate_grad_batches=2"])
def test_a_flag_that_needs_autograd_is_refused_for_hand_computed_gradients(train_cfg, flag):
    from d2lab.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        train_cfg("model=linear_scratch", "model.manual_grad=true", "~logger", flag)
    key = flag.lstrip("+").split("=")[0]
    assert key in str(info.value) and "model.manual_grad=false" in str(info.value)


class ParamDtype(L.Callback):
    """The dtype the net's parameters trained in."""

    seen: list = []

    def on_train_end(self, trainer, pl_module) -> None:
        ParamDtype.seen.append(next(pl_module.net.parameters()).dtype)


def test_precision_64_trains_in_double(task_run):
    ParamDtype.seen = []
    task_run("+trainer.precision=64", f"+callbacks.dtype._target_={__name__}.ParamDtype")
    assert ParamDtype.seen == [torch.float64]


def test_val_check_interval_beyond_an_epoch_is_refused_before_fit(train_cfg):
    from d2lab.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        train_cfg("data=airfoil", *QUIET, "~logger", "+trainer.val_check_interval=200")
    assert "trainer.val_check_interval=200" in str(info.value) and "has 150" in str(info.value)


def test_an_epoch_interval_learning_rate_monitor_logs_at_optimizer_steps(train_cfg, tmp_path, caplog):
    lr = "+callbacks.lr_monitor"
    with caplog.at_level(logging.INFO, logger="d2lab"):
        train_cfg(
            "data=airfoil", *QUIET, "logger=csv", "scheduler=step",
            f"{lr}._target_=lightning.pytorch.callbacks.LearningRateMonitor", f"{lr}.logging_interval=epoch",
        )  # fmt: skip
    assert "grouped fast path is off" in caplog.text
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows if r.get("lr-SGD")] == [0, 150]  # each epoch's start, in optimizer steps


def test_accumulation_logs_one_step_loss_per_optimizer_step(task_run, tmp_path):
    summary, per_epoch = task_run("logger=csv", "trainer.log_every_n_steps=1", "+trainer.accumulate_grad_batches=2")
    rows = list(csv.DictReader((tmp_path / "csv" / "metrics.csv").open()))
    logged = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    assert logged == list(range(1, summary["steps"] + 1))


def test_a_step_schedule_spans_max_steps_when_epochs_are_unlimited(train_cfg):
    summary, _ = train_cfg(
        "data=airfoil", *QUIET, "~logger", "trainer.max_epochs=-1", "trainer.max_steps=450",
        "scheduler=cosine", "scheduler.interval=step",
    )  # fmt: skip
    lrs = [h["lr"] for h in summary["history"]]
    assert summary["steps"] == 450 and lrs[0] > 0.5 * 0.01 and lrs[1] > 0  # not used up after one epoch


def test_an_epoch_without_validation_keeps_the_lr_it_trained_with(train_cfg):
    # scheduler=step halves the lr after every epoch; each record's lr is the one its epoch trained with.
    summary, _ = train_cfg(
        "data=airfoil", *QUIET, "~logger", "scheduler=step", "trainer.check_val_every_n_epoch=2", "trainer.max_epochs=4"
    )
    assert [h["lr"] for h in summary["history"]] == pytest.approx([0.03, 0.015, 0.0075, 0.00375])
    assert [("val/loss" in h) for h in summary["history"]] == [False, True, False, True]


def test_mid_epoch_validations_are_plotted_at_their_fraction_of_the_epoch(train_cfg):
    from d2lab.report.plots import curve_points

    summary, _ = train_cfg("data=airfoil", *QUIET, "~logger", "+trainer.val_check_interval=50")
    xs = [x for x, _, _ in curve_points(summary["history"], "val/loss")]
    assert xs == pytest.approx([1 / 3, 2 / 3, 1, 4 / 3, 5 / 3, 2])
