"""Which weights `trainer.test` sees: the checkpoint chosen on validation (default) or the last weights."""

import pytest

# The book's full-batch GD on airfoil (lr 1) oscillates, so its best epoch is not its last; airfoil tests on
# the same 1500 rows it validates on, so the test loss must equal one of the logged validation losses exactly.
GD = ("data=airfoil", "data.batch_size=1500", "optimizer.lr=1.0", "trainer.max_epochs=10", "~logger")


def test_best_checkpoint_is_tested_and_history_is_kept(train_cfg):
    summary, _ = train_cfg(*GD)
    losses = [h["val/loss"] for h in summary["history"]]
    assert len(losses) == 10 and min(losses) < losses[-1]  # best is not last, or the test proves nothing
    assert summary["test/loss"] == pytest.approx(min(losses), abs=1e-6)
    assert summary["best"] == pytest.approx(min(losses), abs=1e-7)


@pytest.mark.parametrize("override", ["test_ckpt=last", "callbacks=none"])
def test_last_weights_when_asked_or_without_checkpoints(train_cfg, override):
    summary, _ = train_cfg(*GD, override)
    assert summary["test/loss"] == pytest.approx(summary["history"][-1]["val/loss"], abs=1e-6)


def test_unknown_test_ckpt_is_refused_before_training(train_cfg):
    from d2lab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"test_ckpt='middle' is not a valid choice. Valid choices: best, last"):
        train_cfg(*GD, "test_ckpt=middle")


BOOK_PROTOCOL = ("experiment=d2l_softmax_regression", "data.validate_on=test", "data.train_size=256",
                 "trainer.max_epochs=2", "~logger")  # fmt: skip


def test_the_books_protocol_tests_the_last_epoch_on_the_images_it_validated_on(tmp_path):
    from d2lab.train import train
    from tests.conftest import compose_config
    from tests.fashion_idx import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path / "data", n_train=300, n_test=50)
    record: dict = {}
    cfg = compose_config(tmp_path, [*BOOK_PROTOCOL, f"paths.data_dir={tmp_path / 'data'}", "test_ckpt=last"])
    summary = train(cfg, record)
    assert summary["test/acc"] == pytest.approx(summary["history"][-1]["val/acc"], abs=1e-6)
    assert record["validate_on"] == "test"  # into metrics.json, failed run or not: the report and figures read it


@pytest.mark.parametrize(
    ("overrides", "chosen"),
    [
        ((), "test_ckpt=best would test the checkpoint chosen on them"),
        (("test_ckpt=last", "callbacks=early_stopping"), "early stopping would pick its last epoch on them"),
    ],
)
def test_choosing_on_the_test_images_is_refused(train_cfg, overrides, chosen):
    from d2lab.errors import ConfigError

    refusal = rf"data.validate_on=test validates on the test images, so {chosen}"
    with pytest.raises(ConfigError, match=refusal) as caught:
        train_cfg(*BOOK_PROTOCOL, *overrides)
    assert "data.validate_on=test test_ckpt=last" in str(caught.value) and "\n" not in str(caught.value)


def test_without_checkpoints_the_book_protocol_needs_no_test_ckpt(train_cfg, tmp_path):
    from tests.fashion_idx import write_fake_fashion_mnist

    write_fake_fashion_mnist(tmp_path / "data", n_train=300, n_test=50)
    summary, _ = train_cfg(*BOOK_PROTOCOL, f"paths.data_dir={tmp_path / 'data'}", "callbacks=none")
    assert summary["test/acc"] == pytest.approx(summary["history"][-1]["val/acc"], abs=1e-6)


def test_validate_on_for_data_that_has_no_test_split_is_an_unknown_argument(train_cfg):
    from d2lab.errors import ConfigError

    with pytest.raises(ConfigError, match=r"data.validate_on is not an argument of Airfoil"):
        train_cfg("data=airfoil", "+data.validate_on=test", "~logger")


def test_a_run_resumes_only_on_the_validation_images_it_started_with(train_cfg, tmp_path):
    from pathlib import Path

    from d2lab.errors import ConfigError
    from tests.fashion_idx import write_fake_fashion_mnist

    data = f"paths.data_dir={tmp_path / 'data'}"
    write_fake_fashion_mnist(tmp_path / "data", n_train=300, n_test=50)
    _, cfg = train_cfg(*BOOK_PROTOCOL, data, "test_ckpt=last")
    last = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    resumed = ("experiment=d2l_softmax_regression", "data.train_size=256", "trainer.max_epochs=3", "~logger", data)
    refusal = r"data.validate_on=heldout differs from the checkpoint's run, which validated with data.validate_on=test"
    with pytest.raises(ConfigError, match=refusal):
        train_cfg(*resumed, f"ckpt_path={last}")
    summary, _ = train_cfg(*resumed, f"ckpt_path={last}", "data.validate_on=test", "test_ckpt=last")
    assert summary["epochs"] == 3
