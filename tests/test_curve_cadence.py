"""The book's cadence: a curve point every N training examples and one before training, at fast-path speed (groups
end where a point falls due, so each point sees exactly that step's parameters), with the book's training clock."""

import signal

import pytest
import torch

from d2lab.data.batches import TensorBatches
from tests.conftest import REPO, read_metrics, run_cli

BOOK_10 = ("data=airfoil", "+minibatch=batch_10", "callbacks.curve.val_every_n_examples=200", "~logger")


def test_groups_end_where_a_point_falls_due_and_every_epoch_has_as_many():
    batches = TensorBatches(torch.arange(1500), batch_size=10, steps_per_call=204, group_ends_every_n_examples=200)
    assert list(batches.group_sizes(0)) == [20] * 7 + [10]  # a point at 200, 400, ..., 1400; the epoch's end
    assert len(batches) == 8 == len(list(batches)) == len(list(batches))  # epoch after epoch
    assert list(batches.group_sizes(25)) == [15] + [20] * 5 + [10]  # resumed after 25 minibatches: same cuts
    odd = TensorBatches(torch.arange(1503), batch_size=100, steps_per_call=20, group_ends_every_n_examples=200)
    assert [len(g) for g in odd] == [2] * 7 + [2]  # 1400, then 1503 rows end the epoch
    assert TensorBatches(torch.arange(1500), batch_size=10, steps_per_call=204).__len__() == 1  # no cadence


def test_the_book_cadence_records_the_loss_every_200_examples_and_before_training(train_cfg):
    summary, _ = train_cfg(*BOOK_10)
    history = summary["history"]
    assert len(history) == 17  # before training, 7 in each epoch, each epoch's end
    assert [h["examples"] for h in history] == [0, *range(200, 1600, 200), 1500, *range(1700, 3000, 200), 3000]
    assert [h["epochs"] for h in history] == pytest.approx([h["examples"] / 1500 for h in history])
    assert history[0]["step"] == 0 and history[0]["train_time_s"] == 0
    losses = [h["val/loss"] for h in history]
    assert losses[0] > 0.45 and max(losses[1:]) < 0.3 and min(losses) == pytest.approx(0.242, abs=0.003)  # descent
    clocks = [h["train_time_s"] for h in history]
    assert clocks == sorted(clocks) and all(h["train_time_s"] <= h["time_s"] for h in history)
    assert summary["val/loss"] == history[-1]["val/loss"]  # the epoch-end point is Lightning's own validation
    assert "train/loss" in history[8] and "train/loss" in history[16]  # merged into the cadence's record


def test_each_point_sees_the_parameters_of_a_plain_loop(train_cfg):
    grouped, _ = train_cfg(*BOOK_10)
    plain, _ = train_cfg(*BOOK_10, "data.steps_per_call=1")
    assert [(h["step"], h["val/loss"]) for h in grouped["history"]] == [
        (h["step"], h["val/loss"]) for h in plain["history"]
    ]  # bit for bit
    assert grouped["w"] == plain["w"]


def test_off_by_default_one_point_per_validation(train_cfg):
    summary, _ = train_cfg("data=airfoil", "trainer.max_epochs=2", "~logger")
    assert [h["step"] for h in summary["history"]] == [150, 300]
    assert all(h["train_time_s"] <= h["time_s"] for h in summary["history"])


def test_a_bad_cadence_is_one_paragraph(compose_cfg):
    from hydra.utils import instantiate

    from d2lab.errors import find_user_error

    with pytest.raises(Exception) as caught:
        instantiate(compose_cfg("callbacks.curve.val_every_n_examples=0").callbacks.curve)
    message = str(find_user_error(caught.value))
    assert message.startswith("callbacks.curve.val_every_n_examples=0 is invalid: it must be a whole number >= 1")


@pytest.mark.slow
def test_a_run_killed_mid_epoch_resumes_its_curve_exactly(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the KillAt callback lives in tests/
    run = ("data.steps_per_call=1", "trainer.max_epochs=3", "trainer.deterministic=true", "~logger",
           "callbacks.curve.val_every_n_examples=200", "callbacks.step_snapshot.every_n_train_steps=5")  # fmt: skip
    whole = run_cli("-m", "d2lab.train", *run, f"hydra.run.dir={tmp_path}/whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-2000:]
    killed = run_cli("-m", "d2lab.train", *run, "+callbacks.kill._target_=tests.kill_at.KillAt",
                     "+callbacks.kill.step=103", f"hydra.run.dir={tmp_path}/killed", cwd=tmp_path)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    resumed = run_cli("-m", "d2lab.train", *run, f"ckpt_path={last}", f"hydra.run.dir={tmp_path}/resumed",
                      cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = read_metrics(tmp_path / "whole")["history"], read_metrics(tmp_path / "resumed")["history"]
    assert [(h["examples"], h["val/loss"]) for h in a] == [(h["examples"], h["val/loss"]) for h in b]
    assert len(a) == 1 + 3 * 4  # synthetic: 800 training rows, points at 200, 400, 600 and the epoch's end (800)
    clocks = [h["train_time_s"] for h in b]
    assert clocks == sorted(clocks)  # the training clock goes on across the resume


def test_the_animator_view_records_the_running_train_curve_five_times_an_epoch(train_cfg, tmp_path):
    from tests.fashion_idx import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path / "data", n_train=500, n_test=100)  # train_cfg reads tmp_path/data
    summary, _ = train_cfg("experiment=d2l_softmax_regression", "data.batch_size=20", "data.val_fraction=0.2",
                           "trainer.max_epochs=2", "~logger")  # fmt: skip
    history = summary["history"]  # 400 training images, 20 batches an epoch: points after batches 4, 8, ..., 20
    assert [h["step"] for h in history] == [4, 8, 12, 16, 20, 24, 28, 32, 36, 40]
    assert [h["epochs"] for h in history] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8, 2.0])
    assert all("train/loss" in h and "train/acc" in h for h in history)
    assert ["val/acc" in h for h in history] == [False] * 4 + [True] + [False] * 4 + [True]  # once an epoch
    # running means of the epoch so far: the last point of an epoch is the epoch's mean, as Lightning publishes it
    assert history[-1]["train/loss"] == summary["train/loss"]
    assert len({h["train/loss"] for h in history}) == 10


def test_an_epoch_without_validation_keeps_its_record_beside_the_curve_points(train_cfg):
    summary, _ = train_cfg("data=airfoil", "data.batch_size=100", "trainer.max_epochs=2", "~logger",
                           "trainer.check_val_every_n_epoch=2", "callbacks.curve.train_points_per_epoch=3",
                           "callbacks.curve.val_every_n_examples=500")  # fmt: skip
    history = summary["history"]
    assert [h["step"] for h in history] == [0, 5, 10, 15, 20, 25, 30]  # one record per step, merged
    epoch_end = history[3]  # epoch 0 ended without a validation: its record has the epoch's clock and train means
    assert epoch_end["step"] == 15 and "epoch_s" in epoch_end and "train/loss" in epoch_end and "val/loss" in epoch_end
    assert "epoch_s" in history[-1] and history[-1]["val/loss"] == summary["val/loss"]
    assert all(h["epoch_s"] < summary["time/fit_s"] for h in history if "epoch_s" in h)
