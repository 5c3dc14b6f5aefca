"""A DDP worker that Lightning spawned (`trainer=ddp_spawn`) leaves its process group together with the others.

Left to the interpreter's exit, a worker that finishes first tears its gloo group down while the other still
holds its end, and now and then dies with SIGABRT ("terminate called without an active exception"), which
fails a run that had finished. Here every worker waits at a barrier and destroys the group at the end of its
stage, so none exits holding one. build.py adds it only for the strategies whose workers Lightning starts with
torch.multiprocessing and which live for one stage; the processes of `trainer=ddp` live on into the test, and keep
their group.
"""

import lightning as L
import torch.distributed as dist


class LeaveProcessGroupTogether(L.Callback):
    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
