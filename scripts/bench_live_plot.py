"""What the notebook's live plot costs a CPU run: the same d2lab.run with live_plot on and off, in one real Jupyter
kernel, alternating, after one untimed run of each.

    python scripts/bench_live_plot.py [--repeats 5] [--data-dir data]

The kernel is started by jupyter_client, as Jupyter starts one; inside it d2lab.run draws into the cell's output
(PNG images, updated in place), which is the cost measured. Each run's clock is its `time/fit_s` (the fit, where
the drawing happens) and the whole d2lab.run call.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RUNS = {  # name: d2lab.run's overrides
    "linear regression (the default run, 3 epochs)": [],
    "BN-LeNet, 3,000 Fashion-MNIST images, 3 epochs (the notebook's)": [
        "experiment=d2l_batch_norm", "data.train_size=3000", "data.batch_size=64", "optimizer.lr=0.1",
        "trainer.max_epochs=3", "+trainer.limit_test_batches=0.2",
    ],
    "softmax regression on all of Fashion-MNIST, 10 epochs (the book's 4.4)": ["experiment=d2l_softmax_regression"],
}  # fmt: skip


KERNEL_CODE = """
import json, time, d2lab
def timed(overrides, live):
    started = time.perf_counter()
    run = d2lab.run(*overrides, live_plot=live, print_config=False)
    assert run.status == "ok", run.metrics.get("error")
    return {"fit_s": run.metrics["time/fit_s"], "wall_s": time.perf_counter() - started}
"""


def in_kernel(client, code: str) -> str:
    """Run `code` in the kernel; its stdout (the cells' images and logs are left out)."""
    printed: list[str] = []

    def hook(message: dict) -> None:
        if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            raise RuntimeError("\n".join(message["content"]["traceback"]))

    reply = client.execute_interactive(code, output_hook=hook, timeout=900)
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"kernel: {reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    return "".join(printed)


def measure(repeats: int = 5, data_dir: str | None = None, workdir: str | None = None) -> dict[str, dict]:
    """Per run: the live/off rows, alternating, in one kernel (the first of each untimed)."""
    import tempfile

    from jupyter_client.manager import start_new_kernel

    folder = workdir or tempfile.mkdtemp(prefix="d2lab-live-plot-")
    manager, client = start_new_kernel(kernel_name="python3", cwd=folder)
    try:
        in_kernel(client, KERNEL_CODE + "\nimport logging; logging.disable(logging.INFO)")
        results: dict[str, dict] = {}
        for name, overrides in RUNS.items():
            extra = [f"paths.data_dir={data_dir}"] if data_dir and overrides else []
            args = json.dumps(overrides + extra)
            rows: dict[str, list[dict]] = {"on": [], "off": []}
            for i in range(repeats + 1):
                for live in (True, False) if i % 2 == 0 else (False, True):  # neither always goes first
                    row = json.loads(in_kernel(client, f"print(json.dumps(timed({args}, {live})))").strip())
                    if i > 0:
                        rows["on" if live else "off"].append(row)
            results[name] = rows
        return results
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def table(results: dict[str, dict]) -> str:
    lines = [
        "| run | fit, live plot off (s) | fit, live plot on (s) | fit on / off | d2lab.run on / off | target |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, rows in results.items():
        med = {k: {c: statistics.median(r[c] for r in v) for c in ("fit_s", "wall_s")} for k, v in rows.items()}
        fit = med["on"]["fit_s"] / med["off"]["fit_s"]
        wall = med["on"]["wall_s"] / med["off"]["wall_s"]
        verdict = "met" if wall <= 1.05 else "MISSED"
        lines.append(
            f"| {name} | {med['off']['fit_s']:.2f} | {med['on']['fit_s']:.2f} | **{fit:.3f}** | **{wall:.3f}** | "
            f"≤ 1.05: {verdict} |"
        )
    n = len(next(iter(results.values()))["on"])
    lines += ["", f"Medians of {n} runs each, on and off alternating in one kernel."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data-dir", default=str(REPO / "data"), help="holds FashionMNIST/raw/")
    args = parser.parse_args()
    started = time.perf_counter()
    results = measure(args.repeats, str(Path(args.data_dir).resolve()))
    print(json.dumps(results), file=sys.stderr)
    print(table(results))
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
