"""The book's own code for its minibatch-SGD comparison (d2l.ai, PyTorch edition, 12.5 "Minibatch Stochastic Gradient
Descent"): `get_data_ch11`, `sgd`, `train_ch11` and the four `train_sgd` runs, written from the book's listing, as the
yardstick for `experiment=d2l_minibatch_sgd`.

The book's `Animator` redraws its figure at every point; in a notebook, Jupyter then renders it as SVG (the book
calls `d2l.use_svg_display()`). Outside Jupyter, `--draw svg` renders each frame to SVG the same way, and
`--draw none` (the default) keeps the points without drawing them. The book's timer leaves out both.

    python scripts/book_minibatch_sgd.py [--draw none|svg]   # each run's last loss and sec/epoch; JSON on stderr
"""

import argparse
import io
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils import data

AIRFOIL = Path(__file__).resolve().parents[1] / "src" / "d2lab" / "data" / "airfoil_self_noise.dat"


class Timer:  # d2l.Timer
    def __init__(self):
        self.times = []
        self.start()

    def start(self):
        self.tik = time.time()

    def stop(self):
        self.times.append(time.time() - self.tik)
        return self.times[-1]

    def sum(self):
        return sum(self.times)

    def cumsum(self):
        return np.array(self.times).cumsum().tolist()


def load_array(data_arrays, batch_size, is_train=True):  # d2l.load_array
    dataset = data.TensorDataset(*data_arrays)
    return data.DataLoader(dataset, batch_size, shuffle=is_train)


def get_data_ch11(batch_size=10, n=1500):  # d2l.get_data_ch11, reading the same file the book downloads
    data_ = np.genfromtxt(AIRFOIL, dtype=np.float32, delimiter="\t")
    data_ = torch.from_numpy((data_ - data_.mean(axis=0)) / data_.std(axis=0))
    data_iter = load_array((data_[:n, :-1], data_[:n, -1]), batch_size, is_train=True)
    return data_iter, data_.shape[1] - 1


def linreg(X, w, b):  # d2l.linreg
    return torch.matmul(X, w) + b


def squared_loss(y_hat, y):  # d2l.squared_loss
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def evaluate_loss(net, data_iter, loss):  # d2l.evaluate_loss
    total, count = 0.0, 0
    for X, y in data_iter:
        out = net(X)
        y = y.reshape(out.shape)
        l = loss(out, y)  # noqa: E741 - the book's name
        total += float(l.sum())
        count += l.numel()
    return total / count


class Animator:  # d2l.Animator, drawing each frame as Jupyter's inline SVG backend renders it
    def __init__(self, xlabel=None, ylabel=None, legend=None, xlim=None, ylim=None, xscale="linear",
                 yscale="linear", fmts=("-", "m--", "g-.", "r:"), nrows=1, ncols=1, figsize=(3.5, 2.5),
                 draw="none"):  # fmt: skip
        self.draw = draw
        self.X, self.Y = None, None
        if draw == "none":
            return
        import matplotlib

        matplotlib.use("agg")
        from matplotlib import pyplot as plt

        if legend is None:
            legend = []
        self.fig, self.axes = plt.subplots(nrows, ncols, figsize=figsize)
        if nrows * ncols == 1:
            self.axes = [self.axes]

        def config_axes():  # d2l.set_axes
            ax = self.axes[0]
            ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
            ax.set_xscale(xscale), ax.set_yscale(yscale)
            ax.set_xlim(xlim), ax.set_ylim(ylim)
            if legend:
                ax.legend(legend)
            ax.grid()

        self.config_axes = config_axes
        self.fmts = fmts

    def add(self, x, y):
        if not hasattr(y, "__len__"):
            y = [y]
        n = len(y)
        if not hasattr(x, "__len__"):
            x = [x] * n
        if not self.X:
            self.X = [[] for _ in range(n)]
        if not self.Y:
            self.Y = [[] for _ in range(n)]
        for i, (a, b) in enumerate(zip(x, y, strict=True)):
            if a is not None and b is not None:
                self.X[i].append(a)
                self.Y[i].append(b)
        if self.draw == "none":
            return
        self.axes[0].cla()
        for x, y, fmt in zip(self.X, self.Y, self.fmts):  # noqa: B905 - the book's zip
            self.axes[0].plot(x, y, fmt)
        self.config_axes()
        self.fig.savefig(io.BytesIO(), format="svg")  # display.display(self.fig) in Jupyter, with SVG display


def sgd(params, states, hyperparams):
    for p in params:
        p.data.sub_(hyperparams["lr"] * p.grad)
        p.grad.data.zero_()


def train_ch11(trainer_fn, states, hyperparams, data_iter, feature_dim, num_epochs=2, draw="none"):
    # Initialization
    w = torch.normal(mean=0.0, std=0.01, size=(feature_dim, 1), requires_grad=True)
    b = torch.zeros((1), requires_grad=True)
    net, loss = lambda X: linreg(X, w, b), squared_loss
    # Train
    animator = Animator(xlabel="epoch", ylabel="loss", xlim=[0, num_epochs], ylim=[0.22, 0.35], draw=draw)
    n, timer = 0, Timer()
    for _ in range(num_epochs):
        for X, y in data_iter:
            l = loss(net(X), y).mean()  # noqa: E741 - the book's name
            l.backward()
            trainer_fn([w, b], states, hyperparams)
            n += X.shape[0]
            if n % 200 == 0:
                timer.stop()
                animator.add(n / X.shape[0] / len(data_iter), (evaluate_loss(net, data_iter, loss),))
                timer.start()
    print(f"loss: {animator.Y[0][-1]:.3f}, {timer.sum() / num_epochs:.3f} sec/epoch")
    return timer.cumsum(), animator.Y[0]


def train_sgd(lr, batch_size, num_epochs=2, draw="none"):
    data_iter, feature_dim = get_data_ch11(batch_size)
    return train_ch11(sgd, None, {"lr": lr}, data_iter, feature_dim, num_epochs, draw)


def main() -> None:
    # float() of a loss that requires grad, as the book's evaluate_loss does: torch warns, the book's output does not
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draw", choices=("none", "svg"), default="none")
    draw = parser.parse_args().draw
    runs = {}
    for name, args in (("gd", (1, 1500, 10)), ("sgd", (0.005, 1)), ("batch_100", (0.4, 100)), ("batch_10", (0.05, 10))):
        started = time.perf_counter()
        times, losses = train_sgd(*args, draw=draw)
        runs[name] = {"wall_s": time.perf_counter() - started, "train_s": times[-1], "points": len(losses),
                      "loss": losses[-1]}  # fmt: skip
    print(json.dumps(runs), file=sys.stderr)


if __name__ == "__main__":
    main()
