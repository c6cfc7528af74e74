"""State of the one job this worker process runs, shared by the tasks and the fastai callback.

A worker runs exactly one job, so the job is a process-wide object: the callback is built by
fastai (`defaults.callbacks`) without arguments and finds the job here.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .events import EventWriter


class DataError(Exception):
    """The task's data cannot be used; the message tells a person what to fix."""


class ProtocolError(ValueError):
    """The agent sent what PROTOCOL.md does not allow: a bug in one of the two, not the user's."""


# WorkerEnvelope in proto/gpulink/v1/worker.proto, by proto3 JSON name. The agent's tests hold this
# tuple to the proto's fields and every envelope key read in this package to this tuple.
ENVELOPE_FIELDS = ("jobId", "attempt", "spec", "dataDir", "workspaceDir", "artifactsDir", "workDir",
                   "device", "modelPath", "resume", "batchEventsPerSecond", "gpus", "processes")


@dataclass
class ResumePlan:
    """Where the previous attempt stopped: after epoch `epoch` of the job's fit number `fit_index`."""

    checkpoint: Path
    fit_index: int
    epoch: int
    completed_epochs: int


@dataclass
class Job:
    writer: EventWriter
    envelope: dict
    artifacts_dir: Path
    device: str
    batch_events_per_second: float
    checkpoint_every_epoch: bool = False
    checkpoint_keep_last: int = 0
    resume: ResumePlan | None = None
    # Counters across every fit of the job (fine_tune runs two, a script may run many).
    fits_started: int = 0
    completed_epochs: int = 0
    announced: set[str] = field(default_factory=set)
    exported: set[str] = field(default_factory=set)
    _cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""

    @property
    def spec(self) -> dict:
        return self.envelope.get("spec") or {}

    @property
    def data_dir(self) -> str | None:
        """The task's main dataset, resolved by the agent; None when the worker downloads it (URLs)."""
        return self.envelope.get("dataDir")

    @property
    def workspace_dir(self) -> str | None:
        return self.envelope.get("workspaceDir")

    @property
    def model_path(self) -> str | None:
        return self.envelope.get("modelPath")

    @property
    def on_cuda(self) -> bool:
        return self.device.startswith("cuda")

    # --- cancel: a sticky flag, set by the control thread, read by the training loop -----------

    def request_cancel(self, reason: str) -> None:
        self.cancel_reason = reason
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def start_control_reader(self, stream) -> threading.Thread:
        """Reads control lines after the envelope until EOF (which is not a cancel)."""

        def read() -> None:
            for raw in stream:
                line = raw.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    print(f"gpulink worker: ignoring a control line that is not JSON: {line[:200]}",
                          file=sys.stderr)
                    continue
                if isinstance(msg, dict) and "cancel" in msg:
                    body = msg.get("cancel") or {}
                    self.request_cancel(str(body.get("reason", "")) if isinstance(body, dict) else "")
                else:
                    print(f"gpulink worker: ignoring an unknown control message: {line[:200]}",
                          file=sys.stderr)

        t = threading.Thread(target=read, name="gpulink-control", daemon=True)
        t.start()
        return t

    # --- artifacts -----------------------------------------------------------------------------

    def announce_artifact(self, path: Path, kind: str) -> None:
        """Emits an `artifact` event for a file under artifactsDir (names are relative to it)."""
        path = Path(path)
        name = path.resolve().relative_to(self.artifacts_dir.resolve()).as_posix()
        self.writer.artifact(name=name, size_bytes=path.stat().st_size, sha256=sha256_file(path),
                             kind=kind)
        self.announced.add(name)

    def announce_new_files(self) -> None:
        """Announces files a job left under artifactsDir that no event has named yet."""
        if not self.artifacts_dir.is_dir():
            return
        root = self.artifacts_dir.resolve()
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.name.startswith("."):
                continue
            name = p.relative_to(root).as_posix()
            if name in self.announced:
                continue
            self.announce_artifact(p, "model" if str(p) in self.exported else "file")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_current: Job | None = None


def current() -> Job | None:
    return _current


def set_current(job: Job | None) -> None:
    global _current
    _current = job


def resolved(d: dict, key: str, where: str) -> Any:
    """A spec field the agent always fills in (its default included): absent is a protocol error.

    The worker holds no defaults of its own; jobSpecDefaults in the agent's contract package does.
    """
    v = d.get(key)
    if v is None or v == "" or v == []:
        raise ProtocolError(f"the job spec has no {where}.{key}; the agent fills in every default")
    return v
