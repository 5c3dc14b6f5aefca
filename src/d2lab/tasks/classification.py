"""Classification: cross-entropy loss and accuracy, with the GPU options the image chapters want."""

import torch
from torch import Tensor
from torch.nn import functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from d2lab.errors import ConfigError
from d2lab.tasks.base import Task


class ClassificationTask(Task):
    """Logs `loss` (mean cross-entropy) and `acc` per stage; with `monitor: val/acc` also `val/acc_best`.

    `channels_last` stores the conv weights NHWC (faster convs on tensor cores); `compile` wraps the net's
    forward in torch.compile. Both are applied in `configure_model`, channels_last first, so the compiled graph
    sees the final layout.
    """

    def __init__(
        self,
        net,
        optimizer,
        scheduler=None,
        num_classes: int = 10,
        compile: bool = False,
        channels_last: bool = False,
        **kwargs,
    ) -> None:
        self.num_classes = num_classes  # make_metrics, called by the base class, needs it
        super().__init__(net, optimizer, scheduler, **kwargs)
        if getattr(net, "manual_grad", False):
            raise ConfigError(
                "model.manual_grad=true computes the gradient of the squared loss by hand; classification trains "
                "on cross-entropy, so use model.manual_grad=false (autograd)."
            )
        self.compile_net = compile
        self.channels_last = channels_last
        self._configured = False

    def loss(self, y_hat: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(y_hat, y)

    def make_metrics(self) -> MetricCollection:
        # micro average: the fraction of correct predictions, the book's accuracy
        return MetricCollection({"acc": MulticlassAccuracy(self.num_classes, average="micro")})

    def configure_model(self) -> None:
        if self._configured:  # Lightning calls this hook for fit and again for test
            return
        self._configured = True
        if self.channels_last:
            self.net.to(memory_format=torch.channels_last)
        if self.compile_net:
            self.net.compile()
