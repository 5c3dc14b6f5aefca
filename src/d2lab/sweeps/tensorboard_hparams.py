"""TensorBoard's HParams tab, opened on what a sweep compares.

TensorBoard takes the first run that holds an experiment summary as the tab's definition, and lists its
hyperparameters with `differs` ones first. So a sweep writes one experiment summary into its own folder (the
run "."): the swept keys first, marked as differing, then the settings a user compares (the group choices,
seed, batch size, the optimizer's and schedule's numbers, the trainer's essentials), and the metrics, the
best of the monitored one first. Each job then writes only its session: its values of those same keys, no
paths, `_target_` strings or callback internals. A run outside a sweep writes both, so its tab works alone.

Seeds of one configuration share a session group, so the tab can show them together (mean, min, max).
A run's folder, and so its name in TensorBoard, is its overrides (`run_name`).
"""

import hashlib
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

GROUPS = ("model", "data", "optimizer", "scheduler")
SETTINGS = ("optimizer", "scheduler")  # groups whose own numbers are compared (a model's follow from its data)
TRAINER_KEYS = ("max_epochs", "precision", "accelerator")
NOT_COMPARED = ("paths.", "hydra.", "callbacks.", "trainer_callbacks", "logger", "ckpt_path", "+callbacks.")
NOT_COMPARED += ("print_config", "live_plot")  # how a run shows itself, not what it compares
Scalar = bool | int | float | str


def override_pairs(overrides: list[str]) -> list[tuple[str, str]]:
    """`+book_optimizer=sgd` -> ("book_optimizer", "sgd"), for the keys a user compares."""
    pairs = []
    for line in overrides:
        key, _, value = str(line).partition("=")
        if not line.startswith(NOT_COMPARED) and not key.lstrip("+~").startswith(NOT_COMPARED):
            pairs.append((key.lstrip("+~"), value))
    return pairs


def scalar(value: Any) -> Scalar | None:
    if isinstance(value, bool | int | float | str):
        return value
    return None if value is None or OmegaConf.is_config(value) or isinstance(value, dict | list) else str(value)


def select(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=False)
    except Exception:  # an interpolation only a job can resolve (e.g. ${hydra:runtime.output_dir})
        return None


def compared_hparams(cfg: DictConfig, overrides: list[str], choices: dict[str, str]) -> dict[str, Scalar]:
    """The run's values of what a sweep compares: its overrides first, then the essentials."""
    params: dict[str, Scalar] = {}
    for key, typed in override_pairs(overrides):
        value = scalar(select(cfg, key))
        params[key] = value if value is not None else typed  # a group choice (optimizer=adam) keeps its name
    for group in GROUPS:
        if choices.get(group) is not None:
            params.setdefault(group, str(choices[group]))
    params.setdefault("seed", scalar(select(cfg, "seed")))
    params.setdefault("data.batch_size", scalar(select(cfg, "data.batch_size")))
    for group in SETTINGS:
        node = select(cfg, group)
        for key in node.keys() if OmegaConf.is_dict(node) else []:
            value = scalar(select(cfg, f"{group}.{key}"))
            if not str(key).startswith("_") and isinstance(value, bool | int | float | str):
                params.setdefault(f"{group}.{key}", value)
    for key in TRAINER_KEYS:
        params.setdefault(f"trainer.{key}", scalar(select(cfg, f"trainer.{key}")))
    return {k: v for k, v in params.items() if v is not None}


def metric_names(monitor: str) -> list[str]:
    """The HParams columns: the best of the monitored metric, its last value, the losses, and the clocks."""
    test = monitor.replace("val/", "test/", 1)
    names = [f"{monitor}_best", monitor, "val/loss", "train/loss", test, "test/loss", "time/fit_s"]
    return list(dict.fromkeys([*names, "time/first_step_s"]))


def experiment_summary(hparams: dict[str, list[Scalar] | None], differing: set[str], monitor: str) -> Any:
    """An experiment summary (TensorBoard's protos, built as its summary_v2 does, with `differs` set)."""
    from google.protobuf import struct_pb2
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    infos = []
    for name, values in hparams.items():
        info = api_pb2.HParamInfo(name=name, differs=name in differing, type=hparam_type(values))
        if values:
            info.domain_discrete.CopyFrom(struct_pb2.ListValue(values=[_value(v) for v in values]))
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=m)) for m in metric_names(monitor)]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics, time_created_secs=time.time())
    return plugin_summary(metadata.EXPERIMENT_TAG, plugin_data_pb2.HParamsPluginData(experiment=experiment))


def session_end_summary() -> Any:
    """The session's end, marked a success (a run logs its session once it finished): the tab's Status column.
    Built by hand because TensorBoard's `session_end_pb` needs TensorFlow."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS, end_time_secs=time.time())
    return plugin_summary(metadata.SESSION_END_INFO_TAG, plugin_data_pb2.HParamsPluginData(session_end_info=end))


def plugin_summary(tag: str, data: Any) -> Any:
    """A summary holding one HParams plugin message, as TensorBoard's own summary functions write it."""
    from tensorboard.compat.proto import summary_pb2
    from tensorboard.plugins.hparams import metadata

    data.version = metadata.PLUGIN_DATA_VERSION
    summary = summary_pb2.Summary()
    summary.value.add(tag=tag, metadata=metadata.create_summary_metadata(data), tensor=metadata.NULL_TENSOR)
    return summary


def hparam_type(values: list[Scalar] | None) -> int:
    """TensorBoard's type for a column: a continuous range (None) is a number."""
    from tensorboard.plugins.hparams import api_pb2

    if values and all(isinstance(v, bool) for v in values):
        return api_pb2.DATA_TYPE_BOOL
    if values is None or all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def _value(value: Scalar) -> Any:
    from google.protobuf import struct_pb2

    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=value)
    return struct_pb2.Value(string_value=str(value))


def typed(value: str) -> Scalar:
    """A swept value as the job will log it: a number where it reads as one."""
    try:
        return float(value)
    except ValueError:
        return value


def write_sweep_experiment(sweep_dir: Path, config: DictConfig, swept: dict[str, list[str] | None]) -> Path | None:
    """The sweep's experiment summary, in an event file of `sweep_dir` itself: `swept` maps each swept key to
    its values (None for a continuous range), `config` is the sweep's config (the sweeper's). None for a sweep
    of something other than training runs (the playground's jobs write their own HParams)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    choices = dict(select(config, "hydra.runtime.choices") or {})
    keys = {k.lstrip("+~"): v for k, v in swept.items()}
    hparams: dict[str, list[Scalar] | None] = {k: [typed(v) for v in vs] if vs else None for k, vs in keys.items()}
    for key, value in compared_hparams(config, [], choices).items():
        hparams.setdefault(key, [value])
    monitor = select(config, "task.monitor")
    if monitor is None:
        return None
    writer = EventFileWriter(str(sweep_dir))
    summary = experiment_summary(hparams, set(keys), str(monitor))
    writer.add_event(event_pb2.Event(wall_time=time.time(), summary=summary))
    writer.close()
    return sweep_dir


def log_run_hparams(logger: Any, params: dict[str, Scalar], group: str, monitor: str, in_sweep: bool) -> None:
    """A run's session (its hparams, in session group `group`) into a Lightning TensorBoardLogger's run; a run
    outside a sweep also writes its own experiment summary."""
    from tensorboard.plugins.hparams import summary_v2

    writer = logger.experiment.file_writer  # torch's FileWriter, which Lightning's logger holds
    if not in_sweep:
        writer.add_summary(experiment_summary({k: [v] for k, v in params.items()}, set(), monitor))
    writer.add_summary(summary_v2.hparams_pb(params, trial_id=group))
    writer.add_summary(session_end_summary())
    writer.flush()


def session_group(overrides: list[str]) -> str:
    """The seeds of one configuration share a group: its compared overrides without `seed`."""
    return ",".join(f"{k}={v}" for k, v in override_pairs(overrides) if k != "seed") or "run"


def run_name(overrides: str) -> str:
    """A run's TensorBoard folder, and so its name there: its overrides (`hydra.job.override_dirname`) as one
    folder. A `/` in a value (a file's path) would nest folders, and a long line would pass the file system's
    255-byte limit and fail the run, so `/` becomes `_` and a long name keeps its start and a digest of the rest."""
    name = overrides.replace("/", "_")
    if len(name.encode()) > 200:
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        name = f"{name.encode()[:180].decode(errors='ignore')}-{digest}"
    return name
