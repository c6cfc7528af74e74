"""A job on several GPUs: the worker coordinates one rank per GPU under `accelerate launch`.

The worker the agent started (warm, from the pool) stays the job's one voice on the protocol: it
writes the ranks' envelope to a folder under the job's work dir, runs
`accelerate launch --multi_gpu --num_processes N -m gpulink_worker.ranks FOLDER`, and

- relays rank 0's events, which rank 0 writes on a FIFO in that folder (torchrun closes every fd
  but 0-2 in the ranks it starts, so the agent's fd 3 cannot reach them); the other ranks run the
  same callback with a writer that drops events, so each event comes once;
- passes a cancel on as a file in the folder, which every rank polls, so each stops at its next
  batch; a rank still running a few seconds after rank 0 reported (one that went a batch further
  and now waits in a collective for a peer that stopped) is killed with the rest of the launch;
- reads each rank's outcome (or error, with its traceback and post-mortem fields) from
  `rank-N.json`: the first rank to fail fails the job with its own error. torchrun ends the other
  ranks when one fails, and the agent ends what is left through the worker's tag
  (jobs/job-processes.ts), which every rank and DataLoader worker inherits.

On the CPU (the agent's stand-in GPUs in tests) the ranks use gloo: accelerate's MULTI_CPU mode is
asked for with ACCELERATE_USE_CPU, and two fastai paths that assume CUDA are patched (see _patch_fastai).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .events import ERROR_EXCEPTION, EventWriter
from .job import Job

# How long the other ranks may go on after rank 0 reported its outcome before they are killed.
_STRAGGLER_S = 5.0
_POLL_S = 0.1


class RankFailed(Exception):
    """A rank failed: `report` is its error event (EventWriter.error's fields), to send as is."""

    def __init__(self, report: dict):
        super().__init__(report.get("message", "a rank failed"))
        self.report = report


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


# --- the coordinator (the agent's worker) ---------------------------------------------------------


def run_ranks(job: Job, envelope: dict) -> str:
    """Runs the job in `envelope["processes"]` ranks; returns the outcome, raises RankFailed."""
    processes = int(envelope["processes"])
    folder = Path(envelope["workDir"]) / f"ranks-{envelope.get('attempt', 1)}"
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "envelope.json").write_text(json.dumps(envelope), encoding="utf-8")
    fifo = folder / "events.fifo"
    os.mkfifo(fifo, 0o600)
    relay = threading.Thread(target=_relay, args=(fifo, job.writer), daemon=True)
    relay.start()

    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    gpus = [str(g) for g in envelope.get("gpus") or []]
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    else:
        env["ACCELERATE_USE_CPU"] = "true"
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu",
               "--num_processes", str(processes), "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(_free_port()),
               "-m", "gpulink_worker.ranks", str(folder)]
    launch = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL)
    results = [folder / f"rank-{r}.json" for r in range(processes)]
    cancel_written = False
    rank0_at = None
    while launch.poll() is None:
        if job.cancelled and not cancel_written:
            (folder / "cancel").write_text(job.cancel_reason, encoding="utf-8")
            cancel_written = True
        if rank0_at is None and results[0].exists():
            rank0_at = time.monotonic()
        if rank0_at is not None and time.monotonic() - rank0_at > _STRAGGLER_S:
            _kill_tree(launch.pid)
        time.sleep(_POLL_S)
    _end_relay(fifo, relay)

    reports = [_read(p) for p in results]
    failed = sorted((r["at"], rank, r["error"]) for rank, r in enumerate(reports) if r and "error" in r)
    if failed and not job.cancelled:
        _, rank, error = failed[0]
        raise RankFailed({**error, "message": f"rank {rank} of {processes}: {error['message']}"})
    first = reports[0]
    if first and "outcome" in first:
        job.completed_epochs = int(first["completedEpochs"])
    if job.cancelled:
        return "cancelled"
    # Rank 0's outcome is the job's, whatever ended the ranks after it (the straggler kill above).
    if first is None or "outcome" not in first:
        silent = [str(r) for r, rep in enumerate(reports) if rep is None]
        raise RankFailed({
            "kind": ERROR_EXCEPTION, "exception_type": "RankExited", "traceback": "",
            "peak_cuda_memory_bytes": 0,
            "message": f"rank(s) {', '.join(silent) or '?'} of {processes} ended without reporting "
                       f"(killed, e.g. out of host memory?); accelerate launch exited with "
                       f"{launch.returncode}: its summary is in the job's log",
        })
    return str(first["outcome"])


def _relay(fifo: Path, writer: EventWriter) -> None:
    # Blocks until rank 0 opens the FIFO (or _end_relay does); ends at EOF.
    with open(fifo, encoding="utf-8") as lines:
        for line in lines:
            try:
                ((kind, body),) = json.loads(line).items()
            except (ValueError, AttributeError):
                continue  # rank 0 writes through EventWriter.emit: only a torn last line can be bad
            writer.emit(kind, body)


def _end_relay(fifo: Path, relay: threading.Thread) -> None:
    try:
        # Rank 0 never opened it (it failed first): open the write end so the reader gets EOF.
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # no reader waiting: it has already read to EOF
    relay.join(timeout=5)


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kill_tree(pid: int) -> None:
    """SIGKILL to the launcher and every descendant (torchrun starts each rank in its own session)."""
    import psutil
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for p in tree:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


# --- a rank (python -m gpulink_worker.ranks FOLDER, started by accelerate launch) -----------------


def rank_main(folder: Path) -> int:
    from .main import _die_with_agent, _report, make_job, prepare_process, setup_device
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
            time.sleep(_POLL_S)
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
