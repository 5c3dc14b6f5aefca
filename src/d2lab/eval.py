"""Hydra entry point for evaluation: rebuild a run's model, load its checkpoint, test (and predict).

python -m d2lab.eval ckpt_path=logs/train/runs/<stamp>/checkpoints/last.ckpt
python -m d2lab.eval ckpt_path=last predict=true predict_format=pt
"""

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

import d2lab.resolvers  # noqa: F401  (registers ${len:...})
from d2lab.checks.library_errors import refused_by_lightning
from d2lab.checks.values import check_choice
from d2lab.job.build import build_run
from d2lab.job.checkpoints import check_fits, read_checkpoint, resolve_ckpt_path
from d2lab.job.imports import import_for_run
from d2lab.job.record import guarded_run, quiet_lightning
from d2lab.paths import config_dir

EVAL_ONLY = ("ckpt_path", "train_task_name", "predict", "predict_format", "task_name")


def training_config(cfg: DictConfig, ckpt_path: str) -> DictConfig:
    """The training run's config (its overrides from `.hydra/overrides.yaml`) plus this command's overrides."""
    from hydra import compose
    from hydra.core.hydra_config import HydraConfig

    saved = Path(ckpt_path).resolve().parent.parent / ".hydra" / "overrides.yaml"
    run_overrides = [o for o in OmegaConf.load(saved) if not o.startswith("ckpt_path=")] if saved.is_file() else []
    here = [o for o in HydraConfig.get().overrides.task if o.split("=")[0].lstrip("+~") not in EVAL_ONLY]
    built = compose(config_name="train", overrides=[*run_overrides, *here])
    built.paths = cfg.paths  # outputs go to this eval run's folder
    return built


def write_predictions(outputs: list[dict], folder: str, fmt: str) -> Path:
    import torch

    output = torch.cat([o["output"] for o in outputs]).float().cpu()
    target = torch.cat([o["target"] for o in outputs]).cpu()
    prediction = output.argmax(dim=1) if output.ndim > 1 and output.shape[1] > 1 else output.reshape(len(output))
    path = Path(folder) / f"predictions.{fmt}"
    if fmt == "pt":
        torch.save({"output": output, "prediction": prediction, "target": target}, path)
    else:
        lines = ["prediction,target"]
        lines += [f"{p},{t}" for p, t in zip(prediction.tolist(), target.reshape(len(target)).tolist(), strict=True)]
        path.write_text("\n".join(lines) + "\n")
    return path


def evaluate(cfg: DictConfig, record: dict) -> dict:
    check_choice("predict_format", cfg.predict_format, ("csv", "pt"))
    ckpt_path = resolve_ckpt_path(cfg.ckpt_path, cfg.paths.log_dir, cfg.train_task_name)
    built = training_config(cfg, ckpt_path)
    import_for_run(built)
    quiet_lightning()
    run = build_run(built, loggers=False, callbacks=False, enable_progress_bar=False)
    datamodule, task, trainer = run.datamodule, run.task, run.trainer
    checkpoint = read_checkpoint(ckpt_path)
    check_fits(task, checkpoint["state_dict"], built, ckpt_path)
    task.load_state_dict(checkpoint["state_dict"])
    with refused_by_lightning(built.trainer):
        trainer.test(task, datamodule=datamodule, verbose=False)
    summary: dict = {"ckpt_path": ckpt_path, "monitor": task.monitor, **task.test_results}
    if cfg.predict:
        outputs = trainer.predict(task, datamodule=datamodule)
        summary["predictions"] = str(write_predictions(outputs, cfg.paths.output_dir, cfg.predict_format))
    for key, value in task.test_results.items():
        print(f"{key}: {value:.6g}")
    return summary


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="eval")
def main(cfg: DictConfig) -> float:
    return guarded_run(cfg, lambda record: evaluate(cfg, record))


if __name__ == "__main__":
    main()
