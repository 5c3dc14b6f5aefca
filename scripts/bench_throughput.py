"""Training images/s of BN-LeNet (28 px), ResNet-18 (96 px) and DenseNet (96 px), through d2lab and by hand.

d2lab: the real `d2lab.train.train` on a composed config (`trainer=gpu` and the model's preset), two epochs of
`--steps` batches, validation off; the figure is the second epoch (the first pays for cuDNN autotuning and
compiling). By hand: the same net, data and transform in a plain PyTorch loop on the same device.

    python scripts/bench_throughput.py --data-dir data                      # every model and variant
    python scripts/bench_throughput.py --data-dir data --models lenet --variants fp32 bf16
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

PRESETS = {"lenet": "d2l_batch_norm", "resnet18": "d2l_resnet", "densenet": "d2l_densenet"}
VARIANTS = {  # name: (bf16, channels_last, compile)
    "fp32": (False, False, False),
    "bf16": (True, False, False),
    "bf16+cl": (True, True, False),
    "bf16+cl+compile": (True, True, True),
}


def compose(overrides: list[str], output_dir: str):
    """The config `python -m d2lab.train <overrides>` would run, writing into `output_dir`."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    import d2lab.resolvers  # noqa: F401
    from d2lab.paths import config_dir

    GlobalHydra.instance().clear()
    with initialize_config_dir(version_base="1.3", config_dir=config_dir()):
        cfg = hydra_compose(config_name="train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.paths.output_dir = cfg.hydra.runtime.output_dir = output_dir
    HydraConfig.instance().set_config(cfg)
    return cfg


def d2lab_images_per_s(
    model: str, variant: str, data_dir: str, steps: int = 100, accelerator: str = "gpu", extra: tuple = ()
) -> dict:
    """Run d2lab's training for two epochs of `steps` batches; images/s of the second epoch, and the first's."""
    from d2lab.train import train

    bf16, channels_last, compiled = VARIANTS[variant]
    overrides = [
        f"experiment={PRESETS[model]}",
        "trainer=gpu",
        f"trainer.accelerator={accelerator}",
        f"trainer.precision={'bf16-mixed' if bf16 else '32-true'}",
        "trainer.max_epochs=2",
        f"+trainer.limit_train_batches={steps}",
        "+trainer.limit_val_batches=0",
        "trainer.enable_progress_bar=false",
        f"task.compile={str(compiled).lower()}",
        f"paths.data_dir={data_dir}",
        "~logger",
        "callbacks=none",
        "test=false",
        *([] if channels_last else ["~callbacks.channels_last"]),
        *extra,
    ]
    with tempfile.TemporaryDirectory() as out:
        summary = train(compose(overrides, out), {})
    batch = 256
    first, second = (h["epoch_s"] for h in summary["history"])
    return {"images_per_s": steps * batch / second, "first_epoch_s": first, "epoch_s": second}


def hand_images_per_s(
    model: str, variant: str, data_dir: str, steps: int = 100, device: str = "cuda", warmup: int = 20
) -> dict:
    """A plain PyTorch loop: the preset's net, SGD and batch transform, the data resident on `device`."""
    from hydra.utils import instantiate

    bf16, channels_last, compiled = VARIANTS[variant]
    with tempfile.TemporaryDirectory() as out:
        cfg = compose([f"experiment={PRESETS[model]}", f"paths.data_dir={data_dir}"], out)
    torch.backends.cudnn.benchmark = True
    data = instantiate(cfg.data)
    data.setup("fit")
    images, labels = (t.to(device) for t in data.train_set)
    net = instantiate(cfg.model).to(device)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    if compiled:
        net.compile()
    optimizer = torch.optim.SGD(net.parameters(), lr=cfg.optimizer.lr)
    batch = cfg.data.batch_size
    timings = []

    def step(i: int) -> None:
        start = (i * batch) % (len(labels) - batch)
        x = data.transform(images[start : start + batch])
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(x), labels[start : start + batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    t0 = time.perf_counter()
    for i in range(warmup):
        step(i)
    _sync(device)
    timings.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for i in range(steps):
        step(i)
    _sync(device)
    seconds = time.perf_counter() - t0
    return {"images_per_s": steps * batch / seconds, "first_epoch_s": timings[0], "epoch_s": seconds}


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="data", help="the folder that holds FashionMNIST/raw/")
    parser.add_argument("--models", nargs="+", default=list(PRESETS), choices=list(PRESETS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--hand-variants", nargs="+", default=["fp32", "bf16+cl"], choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=100, help="timed batches of 256 per measurement")
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (a smoke test, not a benchmark)")
    parser.add_argument("--json", help="append each result as a JSON line to this file")
    args = parser.parse_args()
    accelerator, device = ("cpu", "cpu") if args.cpu else ("gpu", "cuda")
    print(f"{'model':9} {'variant':17} {'loop':6} {'images/s':>10} {'1st epoch s':>12}", flush=True)
    jobs = [(m, v, "d2lab") for m in args.models for v in args.variants]
    jobs += [(m, v, "hand") for m in args.models for v in args.hand_variants]
    for model, variant, loop in sorted(jobs, key=lambda j: VARIANTS[j[1]][2]):  # compiled ones last
        if loop == "d2lab":
            result = d2lab_images_per_s(model, variant, args.data_dir, args.steps, accelerator)
        else:
            result = hand_images_per_s(model, variant, args.data_dir, args.steps, device)
        row = {"model": model, "variant": variant, "loop": loop, **result}
        print(
            f"{model:9} {variant:17} {loop:6} {row['images_per_s']:>10,.0f} {row['first_epoch_s']:>12.2f}", flush=True
        )
        if args.json:
            with Path(args.json).open("a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
