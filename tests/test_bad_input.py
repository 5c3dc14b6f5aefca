"""Bad input gets one paragraph that names the key, the bad value and what is valid; a bug keeps its traceback.

Most cases do what `build_run` does before any data is loaded (cheap): `check_config` on the composed config, then
build the data module, the model and the schedule, which check their own ranges; a few per class run the real
command line."""

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from d2lab.checks import check_config
from d2lab.checks.library_errors import explained
from d2lab.errors import ConfigError, find_user_error
from d2lab.paths import config_dir
from tests.conftest import read_metrics, run_cli

ON_CPU = pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible here")


def checked_and_built(cfg) -> None:
    """What build_run does before it touches any data: check the config, then build d2lab's own classes."""
    check_config(cfg)
    for group in ("data", "model", "scheduler"):
        with explained(group, cfg[group]):
            instantiate(cfg[group])


def refusal(compose_cfg, *overrides: str) -> str:
    with pytest.raises(Exception) as caught:
        checked_and_built(compose_cfg(*overrides))
    error = find_user_error(caught.value)  # a constructor's ConfigError comes inside Hydra's InstantiationException
    assert isinstance(error, ConfigError), caught.value
    message = str(error)
    assert message.count("\n") == 0 and len(message) < 600, message  # one paragraph, not a wall
    return message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # the model does not fit the data: what fits is read from the model and data configs on the search path
        ("model=lenet data=airfoil", ["model=lenet does not fit data=airfoil", "data.in_channels", "linear"]),
        ("model=resnet18 data=synthetic", ["model=resnet18", "data=synthetic", "Data that fit model=resnet18:"]),
        ("model=densenet data=thermometer", ["model=densenet", "data=thermometer", "fashion_mnist"]),
        ("model.in_features=${data.width}", ["model=linear does not fit data=synthetic", "data.width"]),
        # top-level values
        ("seed=abc", ["seed='abc' is invalid", "4294967295"]),
        ("seed=1.5", ["seed=1.5 is invalid", "whole number"]),
        ("seed=-1", ["seed=-1 is invalid"]),
        ("train=maybe", ["train='maybe' is invalid", "true or false"]),
        # Trainer arguments: ranges Lightning checks late or never, and types
        ("trainer.max_epochs=-5", ["trainer.max_epochs=-5 is invalid", "-1 for no limit"]),
        ("trainer.max_epochs=abc", ["trainer.max_epochs='abc' is invalid"]),
        ("trainer.max_epochs=1.5", ["trainer.max_epochs=1.5 is invalid"]),
        ("trainer.max_steps=-2", ["trainer.max_steps=-2 is invalid"]),
        ("trainer.check_val_every_n_epoch=0", ["trainer.check_val_every_n_epoch=0 is invalid", ">= 1"]),
        ("trainer.log_every_n_steps=-1", ["trainer.log_every_n_steps=-1 is invalid"]),
        ("+trainer.accumulate_grad_batches=0", ["trainer.accumulate_grad_batches=0 is invalid", ">= 1"]),
        ("+trainer.limit_train_batches=1.5", ["trainer.limit_train_batches=1.5 is invalid", "[0, 1]"]),
        ("+trainer.overfit_batches=-1", ["trainer.overfit_batches=-1 is invalid"]),
        ("+trainer.val_check_interval=0", ["trainer.val_check_interval=0 is invalid", "(0, 1]"]),
        ("+trainer.gradient_clip_val=-1", ["trainer.gradient_clip_val=-1 is invalid", ">= 0"]),
        ("+trainer.gradient_clip_algorithm=foo", ["trainer.gradient_clip_algorithm='foo' is invalid", "norm, value"]),
        ("+trainer.precision=17", ["trainer.precision=17 is invalid", "bf16-mixed", "16-true"]),
        ("+trainer.max_time=1:2", ["trainer.max_time='1:2' is invalid", "DD:HH:MM:SS"]),
        ("+trainer.max_time={hour:1}", ["trainer.max_time={'hour': 1} is invalid"]),
        ("trainer.deterministic=maybe", ["trainer.deterministic='maybe' is invalid", "warn"]),
        ("trainer.devices=0", ["trainer.devices=0 is invalid"]),
        ("+trainer.benchmark=sometimes", ["trainer.benchmark='sometimes' is invalid"]),
        # schedules, optimizers, data, model, task, callbacks, logger (d2lab's own classes refuse as they are built)
        ("scheduler=cosine scheduler.warmup=-3", ["scheduler.warmup=-3 is invalid", ">= 0"]),
        ("scheduler=cosine scheduler.final=-0.5", ["scheduler.final=-0.5 is invalid"]),
        ("scheduler=step scheduler.step_size=0", ["scheduler.step_size=0 is invalid", ">= 1"]),
        ("scheduler=step scheduler.gamma=0", ["scheduler.gamma=0 is invalid", "> 0"]),
        ("scheduler=exponential scheduler.rate=fast", ["scheduler.rate='fast' is invalid"]),
        ("optimizer=momentum optimizer.momentum=-1", ["optimizer.momentum=-1 is invalid", ">= 0"]),
        ("optimizer=adam optimizer.betas=[0.9]", ["optimizer.betas=[0.9] is invalid", "two numbers"]),
        ("optimizer=adam optimizer.eps=-1", ["optimizer.eps=-1 is invalid"]),
        ("optimizer=rmsprop optimizer.alpha=2", ["optimizer.alpha=2 is invalid"]),
        ("optimizer.weight_decay=-0.1", ["optimizer.weight_decay=-0.1 is invalid"]),
        ("optimizer.lr=fast", ["optimizer.lr='fast' is invalid", "a number"]),
        ("optimizer.nesterov=true", ["optimizer.nesterov=true needs optimizer.momentum > 0"]),
        ("data.batch_size=ten", ["data.batch_size='ten' is invalid", "a whole number"]),
        ("data.val_fraction=most", ["data.val_fraction='most' is invalid", "a number"]),
        ("data.w=abc", ["data.w='abc' is invalid", "a list of numbers"]),
        ("data.noise_std=-1", ["data.noise_std=-1 is invalid"]),
        ("data=airfoil data.num_examples=0", ["data.num_examples=0 is invalid", ">= 2"]),
        # k-fold cross-validation: K >= 2 folds, and the fold that validates one of them
        ("data=airfoil data.num_folds=1 data.fold=0", ["data.num_folds=1 is invalid", ">= 2"]),
        ("data=airfoil data.num_folds=five data.fold=0", ["data.num_folds='five' is invalid"]),
        ("data=airfoil data.num_folds=5 data.fold=5", ["data.fold=5 is invalid", "0 to 4", "range(5)"]),
        ("data=airfoil data.num_folds=5 data.fold=-1", ["data.fold=-1 is invalid", "0 to 4"]),
        ("data=airfoil data.num_folds=5", ["data.num_folds=5 needs data.fold", "0 to 4", "range(5)"]),
        ("data=airfoil data.fold=2", ["data.fold=2 needs data.num_folds"]),
        ("data=fashion_mnist model=lenet data.num_folds=3 data.fold=1.5", ["data.fold=1.5 is invalid"]),
        ("data.w=null", ["data.num_features=${len:${.w}} cannot be resolved"]),
        ("model=densenet data=fashion_mnist model.growth_rate=-1", ["model.growth_rate=-1 is invalid"]),
        ("model=densenet data=fashion_mnist model.num_convs=[4,0]", ["model.num_convs=[4, 0] is invalid"]),
        ("model=lenet data=fashion_mnist model.norm=5", ["model.norm=5 is invalid", "a string"]),
        ("+model.hidden=8", ["model.hidden is not an argument of LinearNet", "in_features"]),
        ("model._target_=d2lab.models.lenet.lenett", ["model._target_='d2lab.models.lenet.lenett' does not exist"]),
        ("task.decay_weights_only=maybe", ["task.decay_weights_only='maybe' is invalid", "true or false"]),
        ("callbacks.divergence.check_every=often", ["callbacks.divergence.check_every='often' is invalid"]),
        ("logger=csv logger.csv.version=[1]", ["logger.csv.version=[1] is invalid"]),
        # an accelerator that is not here
        pytest.param("trainer=gpu", ["trainer.accelerator='gpu'", "no CUDA GPU", "trainer=cpu"], marks=ON_CPU),
        pytest.param("trainer.accelerator=cuda", ["trainer.accelerator='cuda'", "trainer=cpu"], marks=ON_CPU),
    ],
)
def test_bad_values_are_refused_before_anything_is_built(compose_cfg, overrides, expected):
    message = refusal(compose_cfg, *overrides.split())
    for part in expected:
        assert part in message, message


def test_what_fits_is_read_from_the_config_not_a_table(compose_cfg):
    # airfoil given the keys lenet reads fits it; Airfoil itself then refuses the keys it does not take
    message = refusal(
        compose_cfg, "model=lenet", "data=airfoil", *(f"+data.{k}=1" for k in ("in_channels", "num_classes", "resize"))
    )
    assert "data.in_channels is not an argument of Airfoil" in message


@pytest.mark.parametrize(
    "overrides",
    [
        *[[f"experiment={p.stem}"] for p in sorted((Path(config_dir()) / "experiment").glob("*.yaml"))],
        ["optimizer=adam", "scheduler=cosine", "scheduler.warmup=2", "debug=limit"],
        ["optimizer=momentum", "optimizer.nesterov=true", "scheduler=step", "debug=overfit"],
        ["optimizer=rmsprop", "scheduler=polynomial", "trainer=ddp", "logger=csv"],
        ["optimizer=adadelta", "scheduler=exponential", "debug=fast_dev_run", "callbacks=none"],
        ["optimizer=adagrad", "data=thermometer", "data.input_scale=0.1", "+trainer.max_time=00:00:10:00"],
        ["model=linear_scratch", "data=airfoil", "optimizer=sgd_scratch", "+trainer.precision=bf16"],
        ["model=lenet", "data=fashion_mnist", "model.norm=batchnorm", "+trainer.val_check_interval=0.5"],
        ["model=densenet", "data=fashion_mnist", "trainer.max_epochs=-1", "trainer.max_steps=10"],
        ["data.w=null", "data.num_features=4", "seed=0", "+trainer.limit_val_batches=0.25"],
    ],
    ids=lambda v: " ".join(v),
)
def test_the_shipped_configs_pass(compose_cfg, overrides):
    checked_and_built(compose_cfg(*overrides))


# --- explained: library errors while building a group ----------------------------------------------------------
def test_a_torch_error_names_the_key(compose_cfg):
    cfg = compose_cfg("optimizer=momentum", "optimizer.momentum=-1")
    refused = pytest.raises(ConfigError, match=r"optimizer\.momentum=-1 is invalid: Invalid momentum value: -1")
    with refused as caught, explained("optimizer", cfg.optimizer):
        instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    assert "python -m d2lab.train optimizer=momentum --cfg job --package optimizer" in str(caught.value)
    assert isinstance(caught.value.__cause__, ValueError)  # chained, for HYDRA_FULL_ERROR=1


def test_a_lightning_error_inside_hydra_names_the_key(compose_cfg):
    cfg = compose_cfg("+trainer.strategy=dpp")
    refused = pytest.raises(ConfigError, match=r"trainer\.strategy='dpp' is invalid: You selected an invalid strategy")
    with refused, explained("trainer", cfg.trainer):
        instantiate(cfg.trainer)


def test_user_errors_pass_through_unchanged(compose_cfg):
    cfg = compose_cfg("data.batch_size=0")
    with pytest.raises(Exception) as caught, explained("data", cfg.data):
        instantiate(cfg.data)  # the data module's own ConfigError, inside Hydra's InstantiationException
    assert "data.batch_size=0 is invalid" in str(caught.value)
    original = ConfigError("already one paragraph")
    with pytest.raises(ConfigError) as caught, explained("data", cfg.data):
        raise original
    assert caught.value is original


@pytest.mark.parametrize("error", [RuntimeError("a bug"), ValueError("a bug in d2lab"), KeyboardInterrupt()])
def test_anything_else_passes_through_unchanged(compose_cfg, error):
    cfg = compose_cfg()
    with pytest.raises(type(error)) as caught, explained("model", cfg.model):
        raise error  # raised here, not inside a library: not a library's validation
    assert caught.value is error


# --- the real command line ---------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ("model=lenet data=airfoil", ["model=lenet does not fit data=airfoil", "Models that fit"]),
        pytest.param("trainer=gpu", ["trainer.accelerator='gpu'", "no CUDA GPU is visible"], marks=ON_CPU),
        ("trainer.max_epochs=abc", ["trainer.max_epochs='abc' is invalid"]),
        ("data.batch_size=ten", ["data.batch_size='ten' is invalid"]),
        ("scheduler=cosine scheduler.warmup=-3", ["scheduler.warmup=-3 is invalid"]),
        ("+trainer.strategy=dpp", ["trainer.strategy='dpp' is invalid", "invalid strategy name"]),
        ("data=airfoil data.num_folds=5 data.fold=7", ["data.fold=7 is invalid", "0 to 4"]),
        # known only once the data is loaded: more folds than examples
        ("data=airfoil data.num_examples=20 data.num_folds=30 data.fold=0", ["data.num_folds=30 is more than the 20"]),
    ],
)
def test_the_command_line_prints_one_paragraph(tmp_path, overrides, expected):
    result = run_cli(
        "-m", "d2lab.train", *overrides.split(), f"hydra.run.dir={tmp_path}/run", cwd=tmp_path, timeout=120
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    assert "├──" not in out  # a refused config prints no config tree
    paragraph = out[out.index("d2lab: failed: ") :].strip()
    assert len(paragraph.splitlines()) <= 6 and len(paragraph) < 600, paragraph
    for part in expected:
        assert part in paragraph, paragraph
    assert read_metrics(tmp_path / "run")["status"] == "failed"  # and the run is recorded


def test_what_fits_includes_the_users_own_configs_on_the_search_path(compose_cfg, tmp_path):
    # a user's own model and data, in their own config folder on hydra.searchpath, are listed beside d2lab's
    (tmp_path / "model").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "model" / "my_mlp.yaml").write_text("_target_: my_pkg.MLP\nin_features: ${data.num_features}\n")
    images = "_target_: my_pkg.Images\nin_channels: 3\nnum_classes: 5\nresize: 32\nbatch_size: 8\n"
    (tmp_path / "data" / "my_images.yaml").write_text(images)
    message = refusal(compose_cfg, f"hydra.searchpath=[file://{tmp_path}]", "model=lenet", "data=airfoil")
    assert "Models that fit data=airfoil: linear, linear_scratch, my_mlp." in message, message
    assert "Data that fit model=lenet: fashion_mnist, my_images." in message, message
