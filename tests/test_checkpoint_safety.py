"""Checkpoints are data, not code: every checkpoint d2lab reads loads with weights_only=True, and a bad one (crafted,
text, truncated, another model's) is refused with one paragraph before anything in it runs."""

import os
import re
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from d2lab.errors import ConfigError
from d2lab.job.checkpoints import AtomicCheckpointIO, check_fits, check_resumable, read_checkpoint
from tests.conftest import compose_config, read_metrics, run_cli

AIRFOIL = ("data=airfoil", "trainer.max_epochs=1", "~logger")
CODE = "would need to run code to load"


class RunsCode:
    """Pickles as a call of os.system: what a crafted checkpoint hides. `touch` leaves a mark if it ever runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def crafted(path: Path, marker: Path, checkpoint: dict | None = None) -> Path:
    """A checkpoint (a real one, if given) with a payload that runs a command when unpickled."""
    checkpoint = dict(checkpoint or {"state_dict": {"w": torch.zeros(2)}})
    checkpoint["d2lab"] = {"payload": RunsCode(marker)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path)
    return path


def refused(result, *messages: str) -> None:
    """Exit != 0, no traceback, one d2lab paragraph that holds every message."""
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stderr.count("d2lab: failed:") == 1, result.stderr[-3000:]
    for message in messages:
        assert message in result.stderr, result.stderr[-3000:]


# --- read_checkpoint on small files, in-process ----------------------------------------------------------------
def test_a_crafted_checkpoint_is_refused_and_nothing_in_it_runs(tmp_path):
    marker = tmp_path / "ran"
    evil = crafted(tmp_path / "evil.ckpt", marker)
    named = re.escape(f"ckpt_path='{evil}' is refused: it {CODE} (its pickle calls for ")
    with pytest.raises(ConfigError, match=named):
        read_checkpoint(evil)
    assert not marker.exists()
    torch.load(evil, weights_only=False)  # the payload is live: an unsafe load runs it
    assert marker.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"seed: 42\ndata: airfoil\n", "is a text file, not a checkpoint"),
        (b"", "is an empty file, not a checkpoint"),
        (bytes(range(256)) * 4, "is not a torch checkpoint"),
    ],
)
def test_a_file_that_is_no_checkpoint_is_named(tmp_path, content, message):
    path = tmp_path / "x.ckpt"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"ckpt_path='{re.escape(str(path))}' {message}.*A valid ckpt_path is"):
        read_checkpoint(path)


@pytest.mark.parametrize("kept", [0.5, 0.9])  # torch fails in two ways: no zip directory, or an OSError
def test_a_truncated_checkpoint_is_named(tmp_path, kept):
    whole, cut = tmp_path / "whole.ckpt", tmp_path / "cut.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, whole)
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * kept)])
    with pytest.raises(ConfigError, match=rf"ckpt_path='{re.escape(str(cut))}' is truncated or corrupt"):
        read_checkpoint(cut)


@pytest.mark.parametrize(("obj", "held"), [([1, 2], "a list"), ({"w": torch.zeros(2)}, "a dict with keys w")])
def test_a_torch_file_without_state_dict_is_not_a_checkpoint(tmp_path, obj, held):
    path = tmp_path / "x.ckpt"
    torch.save(obj, path)
    with pytest.raises(ConfigError, match=f"is a torch file but not a Lightning checkpoint: it holds {held}"):
        read_checkpoint(path)


def test_the_trainers_checkpoint_io_reads_data_only(tmp_path):
    """Lightning's own loads (fit's resume, test(ckpt_path=best.ckpt)) go through the Trainer's CheckpointIO."""
    trainer = instantiate(compose_config(tmp_path, AIRFOIL).trainer, logger=False, callbacks=[])
    assert isinstance(trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    marker = tmp_path / "ran"
    with pytest.raises(ConfigError, match=CODE):
        trainer.strategy.load_checkpoint(crafted(tmp_path / "evil.ckpt", marker), weights_only=False)
    assert not marker.exists()
    good = tmp_path / "good.ckpt"
    trainer.strategy.checkpoint_io.save_checkpoint({"state_dict": {"w": torch.ones(3)}, "step": 7}, good)
    loaded = trainer.strategy.load_checkpoint(good)
    assert loaded["step"] == 7 and torch.equal(loaded["state_dict"]["w"], torch.ones(3))
    bare = tmp_path / "bare.ckpt"  # ddp_spawn hands the weights back through this plugin as a bare state_dict
    trainer.strategy.checkpoint_io.save_checkpoint({"w": torch.ones(3)}, bare)
    assert torch.equal(trainer.strategy.checkpoint_io.load_checkpoint(bare)["w"], torch.ones(3))
    with pytest.raises(FileNotFoundError):
        trainer.strategy.load_checkpoint(tmp_path / "missing.ckpt")


# --- real checkpoints, through the commands a user types -----------------------------------------------------------
@pytest.fixture(scope="module")
def airfoil_run(tmp_path_factory) -> Path:
    """One epoch on airfoil (5 features): its folder, with checkpoints/last.ckpt and best.ckpt."""
    folder = tmp_path_factory.mktemp("airfoil")
    result = run_cli("-m", "d2lab.train", *AIRFOIL, f"hydra.run.dir={folder}/run", f"paths.log_dir={folder}/logs",
                     cwd=folder)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run"


@pytest.fixture(scope="module")
def bad_checkpoints(airfoil_run, tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each kind of bad checkpoint, and what its refusal says."""
    folder = tmp_path_factory.mktemp("bad")
    last = airfoil_run / "checkpoints" / "last.ckpt"
    text = folder / "notes.ckpt"
    text.write_text("epoch: 3\nval/loss: 0.24\n")
    cut = folder / "cut.ckpt"
    cut.write_bytes(last.read_bytes()[: last.stat().st_size * 2 // 3])
    return {
        "text": (text, f"ckpt_path='{text}' is a text file, not a checkpoint"),
        "truncated": (cut, f"ckpt_path='{cut}' is truncated or corrupt"),
        # airfoil has 5 features, synthetic 2: the same model class, another shape
        "other model": (last, f"ckpt_path='{last}' does not fit model"),
    }


def cli(command: str, folder: Path, *overrides: str):
    folder.mkdir(parents=True, exist_ok=True)
    return run_cli("-m", f"d2lab.{command}", *overrides, "~logger", f"hydra.run.dir={folder}/run",
                   f"paths.log_dir={folder}/logs", cwd=folder)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "overrides"),
    [("eval", ()), ("eval", ("predict=true",)), ("train", ("data=airfoil", "trainer.max_epochs=2"))],
    ids=["eval", "predict", "resume"],
)
def test_a_crafted_checkpoint_is_refused_by_every_command(airfoil_run, tmp_path, command, overrides):
    # A real run's folder with a payload in its checkpoint: eval composes that run's config, resume fits it.
    marker = tmp_path / "ran"
    evil = crafted(tmp_path / "shared" / "checkpoints" / "last.ckpt", marker,
                   torch.load(airfoil_run / "checkpoints" / "last.ckpt", weights_only=True))  # fmt: skip
    (tmp_path / "shared" / ".hydra").mkdir()
    (tmp_path / "shared" / ".hydra" / "overrides.yaml").write_text("- data=airfoil\n")
    result = cli(command, tmp_path, f"ckpt_path={evil}", *overrides)
    refused(result, f"ckpt_path='{evil}' is refused: it {CODE}", "nothing in it ran")
    assert not marker.exists()
    assert read_metrics(tmp_path / "run")["status"] == "failed"


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["text", "truncated", "other model"])
@pytest.mark.parametrize("command", ["eval", "train"])
def test_a_bad_checkpoint_is_refused_before_resume_or_eval(bad_checkpoints, tmp_path, command, kind):
    path, message = bad_checkpoints[kind]
    overrides = ("data=synthetic",) if kind == "other model" else ()
    result = cli(command, tmp_path, f"ckpt_path={path}", *overrides, "trainer.max_epochs=2")
    refused(result, message)
    if kind == "other model":
        assert "is [1, 5] in the checkpoint but [1, 2] in the model" in result.stderr
        assert ("Resume with the model and data overrides" in result.stderr) == (command == "train")
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before fit wrote anything


@pytest.mark.slow
def test_a_good_checkpoint_still_resumes_and_evaluates(airfoil_run, tmp_path):
    last = airfoil_run / "checkpoints" / "last.ckpt"
    resumed = cli("train", tmp_path / "resumed", *AIRFOIL[:1], f"ckpt_path={last}", "trainer.max_epochs=2")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    metrics = read_metrics(tmp_path / "resumed" / "run")
    assert metrics["status"] == "ok" and metrics["epochs"] == 2
    evaluated = cli("eval", tmp_path / "eval", f"ckpt_path={last}", "predict=true")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (tmp_path / "eval" / "run" / "predictions.csv").is_file()
    for name in ("last.ckpt", "best.ckpt"):  # everything d2lab writes into its checkpoints is plain data
        torch.load(airfoil_run / "checkpoints" / name, weights_only=True)


@pytest.mark.slow
def test_weights_only_checkpoint_is_refused_for_resume_but_fits_for_eval(airfoil_run, tmp_path):
    checkpoint = read_checkpoint(airfoil_run / "checkpoints" / "last.ckpt")
    weights = {k: v for k, v in checkpoint.items() if k not in ("optimizer_states", "lr_schedulers")}
    path = tmp_path / "weights.ckpt"
    torch.save(weights, path)
    cfg = compose_config(tmp_path, ["data=airfoil"])
    task = instantiate(cfg.task, net=instantiate(cfg.model), optimizer=instantiate(cfg.optimizer))
    with pytest.raises(ConfigError, match="no optimizer or schedule state .* cannot resume from it"):
        check_resumable(str(path), task, cfg)
    check_fits(task, weights["state_dict"], cfg, str(path))  # evaluation only needs the weights
