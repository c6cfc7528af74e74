"""One rank of a job on several GPUs: `python -m gpulink_worker.rank FOLDER`, started by `accelerate
launch`, which the coordinator (ranks.py, in the agent's worker) runs. The rank reads the envelope from
FOLDER, trains its share, writes its events (rank 0) to the FIFO there and its outcome to
`rank-N.json`, and stops at the next batch once a `cancel` file appears.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from .events import EventWriter
from .job import Job
from .main import _die_with_agent, _report, make_job, prepare_process, setup_device
from .ranks import POLL_S


class _RankWriter(EventWriter):
    """Events to `stream` (rank 0: the coordinator's FIFO; others: nowhere); outcome to a file."""

    def __init__(self, stream, result: Path):
        super().__init__(stream)
        self._result = result

    def _record(self, body: dict) -> None:
        tmp = self._result.with_suffix(".tmp")
        tmp.write_text(json.dumps({**body, "at": time.time()}), encoding="utf-8")
        os.replace(tmp, self._result)

    def error(self, **fields) -> None:
        self._record({"error": fields})

    def done(self, *, outcome: str, completed_epochs: int) -> None:
        self._record({"outcome": outcome, "completedEpochs": int(completed_epochs)})


def rank_main(folder: Path) -> int:
    _die_with_agent()  # here: with torchrun, the rank's parent
    prepare_process()
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    envelope = json.loads((folder / "envelope.json").read_text(encoding="utf-8"))
    on_cpu = not envelope.get("gpus")
    envelope["device"] = "cpu" if on_cpu else f"cuda:{local_rank}"
    if rank == 0:
        stream = open(folder / "events.fifo", "w", buffering=1, encoding="utf-8")
    else:
        # The other ranks compute what rank 0 reports; their files go to scratch, their prints nowhere.
        envelope["artifactsDir"] = str(folder / f"rank-{rank}-artifacts")
        stream = open(os.devnull, "w", encoding="utf-8")
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    writer = _RankWriter(stream, folder / f"rank-{rank}.json")
    job = None
    try:
        import fastai.tabular.all  # noqa: F401
        import fastai.vision.all  # noqa: F401
        from .callback import install
        from .job import set_current
        from .tasks import run_task
        install()
        _patch_fastai(on_cpu, wrap_fits="script" not in envelope["spec"])
        job = make_job(writer, envelope)
        if rank:
            # fastai writes exports and weights from rank 0 only (rank_distrib()): none to announce.
            job.announce_artifact = lambda *args, **kwargs: None
            job.announce_new_files = lambda: None
        set_current(job)
        _watch_cancel(folder / "cancel", job)
        setup_device(job.device)
        outcome = run_task(job)
    except BaseException as e:
        if job is not None and job.cancelled:
            writer.done(outcome="cancelled", completed_epochs=job.completed_epochs)
            return 0
        _report(writer, e)
        return 1
    writer.done(outcome=outcome, completed_epochs=job.completed_epochs)
    return 0


def _watch_cancel(path: Path, job: Job) -> None:
    def watch() -> None:
        while not path.exists():
            time.sleep(POLL_S)
        job.request_cancel(path.read_text(encoding="utf-8"))
    threading.Thread(target=watch, daemon=True).start()


def _patch_fastai(on_cpu: bool, wrap_fits: bool) -> None:
    import torch
    from fastai.distributed import DistributedDL, DistributedTrainer
    from fastai.learner import Learner

    if wrap_fits:
        # The built-in tasks call fit/fine_tune as on one GPU: each fit runs in distrib_ctx, as a
        # user's script under `accelerate launch` does itself.
        original_fit = Learner.fit

        def fit(self, *args, **kwargs):
            if any(isinstance(cb, DistributedTrainer) for cb in self.cbs):
                return original_fit(self, *args, **kwargs)
            with self.distrib_ctx():
                return original_fit(self, *args, **kwargs)
        Learner.fit = fit

    if on_cpu:
        # fastai assumes NCCL: DistributedDL._broadcast moves the batch order to CUDA ("nccl only
        # works with cuda tensors"), and SyncBatchNorm has no CPU kernel. gloo takes CPU tensors.
        def broadcast(self, t, rank):
            t = torch.LongTensor(t)
            torch.distributed.broadcast(t, rank)
            return t.tolist()
        DistributedDL._broadcast = broadcast
        original_init = DistributedTrainer.__init__

        def init(self, sync_bn=True, **kwargs):
            original_init(self, False, **kwargs)
        DistributedTrainer.__init__ = init


if __name__ == "__main__":
    sys.exit(rank_main(Path(sys.argv[1])))
