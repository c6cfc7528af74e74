"""A job on several GPUs: the worker coordinates one rank per GPU under `accelerate launch`.

The worker the agent started (warm, from the pool) stays the job's one voice on the protocol: it
writes the ranks' envelope to a folder under the job's work dir, runs
`accelerate launch --multi_gpu --num_processes N -m gpulink_worker.rank FOLDER` (rank.py), and

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
POLL_S = 0.1


class RankFailed(Exception):
    """A rank failed: `report` is its error event (EventWriter.error's fields), to send as is."""

    def __init__(self, report: dict):
        super().__init__(report.get("message", "a rank failed"))
        self.report = report


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
               "-m", "gpulink_worker.rank", str(folder)]
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
        time.sleep(POLL_S)
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
