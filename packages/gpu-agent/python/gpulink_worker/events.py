"""The only place that writes protocol lines on the event channel (fd 3).

Every event is built here, so the JSON shape of each one is defined once. Shapes follow
proto3 canonical JSON of `gpulink.v1` (camelCase keys, enums by name, 64-bit integers as numbers);
see PROTOCOL.md and proto/gpulink/v1/events.proto.
"""

from __future__ import annotations

import json
import math
import os
import threading
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence, TextIO

# ErrorKind names, as the proto spells them.
ERROR_EXCEPTION = "ERROR_KIND_EXCEPTION"
ERROR_CUDA_OOM = "ERROR_KIND_CUDA_OUT_OF_MEMORY"
ERROR_DATA = "ERROR_KIND_DATA"


def proto_double(value: Any) -> float | str:
    """A double as proto3 JSON writes it: JSON has no NaN/Infinity, the proto mapping uses strings."""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def timestamp_now() -> str:
    """google.protobuf.Timestamp in its JSON form (RFC 3339, UTC, 'Z')."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


class EventWriter:
    """Writes one JSON object per line and flushes it, from any thread.

    The training loop (main thread) and the control reader (a daemon thread) may both emit, so a
    lock keeps lines whole.
    """

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._lock = threading.Lock()

    @classmethod
    def open_fd(cls, fd: int) -> "EventWriter":
        os.fstat(fd)  # raises OSError (EBADF) when the fd is not open
        # Processes the job spawns (a script's subprocesses) must not hold the agent's pipe open.
        os.set_inheritable(fd, False)
        return cls(os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=True))

    def emit(self, kind: str, body: dict) -> None:
        # allow_nan=False: a stray NaN must fail here, loudly, rather than reach the agent as
        # invalid JSON; every double goes through proto_double first.
        line = json.dumps({kind: body}, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        with self._lock:
            try:
                self._stream.close()
            except OSError:
                pass

    # --- one method per event kind -------------------------------------------------------------

    def ready(self, info: dict) -> None:
        self.emit("ready", info)

    def fit_started(self, *, n_epoch: int, start_epoch: int, train_batches: int, valid_batches: int,
                    metric_names: Sequence[str], fit_index: int, train_items: int,
                    valid_items: int) -> None:
        self.emit("fitStarted", {
            "nEpoch": int(n_epoch),
            "startEpoch": int(start_epoch),
            "trainBatches": int(train_batches),
            "validBatches": int(valid_batches),
            "metricNames": [str(n) for n in metric_names],
            "fitIndex": int(fit_index),
            "trainItems": int(train_items),
            "validItems": int(valid_items),
        })

    def batch(self, *, epoch: int, iter: int, n_iter: int, training: bool,
              smooth_loss: float | None, lr: float | None, items_per_second: float,
              fit_index: int) -> None:
        body: dict[str, Any] = {
            "epoch": int(epoch),
            "iter": int(iter),
            "nIter": int(n_iter),
            "training": bool(training),
        }
        if smooth_loss is not None:
            body["smoothLoss"] = proto_double(smooth_loss)
        if lr is not None:
            body["lr"] = proto_double(lr)
        body["itemsPerSecond"] = proto_double(items_per_second)
        body["fitIndex"] = int(fit_index)
        self.emit("batch", body)

    def epoch_ended(self, *, epoch: int, n_epoch: int, train_loss: float | None,
                    valid_loss: float | None, metrics: Iterable[tuple[str, float]],
                    duration_ms: int, cuda_memory: dict | None, fit_index: int,
                    completed_epochs: int) -> None:
        body: dict[str, Any] = {"epoch": int(epoch), "nEpoch": int(n_epoch)}
        if train_loss is not None:
            body["trainLoss"] = proto_double(train_loss)
        if valid_loss is not None:
            body["validLoss"] = proto_double(valid_loss)
        body["metrics"] = [{"name": str(n), "value": proto_double(v)} for n, v in metrics]
        body["durationMs"] = int(duration_ms)
        if cuda_memory is not None:
            body["cudaMemory"] = {
                "allocatedBytes": int(cuda_memory["allocated"]),
                "reservedBytes": int(cuda_memory["reserved"]),
                "peakAllocatedBytes": int(cuda_memory["peak"]),
            }
        body["fitIndex"] = int(fit_index)
        body["completedEpochs"] = int(completed_epochs)
        self.emit("epochEnded", body)

    def lr_find_progress(self, *, iter: int, n_iter: int, lr: float,
                         smooth_loss: float | None) -> None:
        body: dict[str, Any] = {"iter": int(iter), "nIter": int(n_iter), "lr": proto_double(lr)}
        if smooth_loss is not None:
            body["smoothLoss"] = proto_double(smooth_loss)
        self.emit("lrFindProgress", body)

    def lr_find_result(self, *, lrs: Sequence[float], losses: Sequence[float],
                       suggestions: Iterable[tuple[str, float]]) -> None:
        self.emit("lrFindResult", {
            "lrs": [proto_double(x) for x in lrs],
            "losses": [proto_double(x) for x in losses],
            "suggestions": [{"method": str(m), "lr": proto_double(lr)} for m, lr in suggestions],
        })

    def artifact(self, *, name: str, size_bytes: int, sha256: str, kind: str) -> None:
        self.emit("artifact", {
            "name": name,
            "sizeBytes": int(size_bytes),
            "sha256": sha256,
            "kind": kind,
            "createdAt": timestamp_now(),
        })

    def interpretation(self, *, classes: Sequence[str], confusion_matrix: Sequence[int],
                       most_confused: Iterable[tuple[str, str, int]]) -> None:
        self.emit("interpretation", {
            "classes": [str(c) for c in classes],
            "confusionMatrix": [int(x) for x in confusion_matrix],
            "mostConfused": [{"actual": str(a), "predicted": str(p), "count": int(c)}
                             for a, p, c in most_confused],
        })

    def phase(self, description: str) -> None:
        """A step other than training begins (JobPhase): what a watcher shows until the next event."""
        self.emit("phase", {"description": description})

    def warning(self, *, code: str, message: str) -> None:
        self.emit("warning", {"code": code, "message": message})

    def error(self, *, kind: str, message: str, exception_type: str, traceback: str,
              peak_cuda_memory_bytes: int) -> None:
        self.emit("error", {
            "kind": kind,
            "message": message,
            "exceptionType": exception_type,
            "traceback": traceback,
            "peakCudaMemoryBytes": int(peak_cuda_memory_bytes),
        })

    def predictions(self, items: Sequence[dict]) -> None:
        self.emit("predictions", {"items": [prediction_item(**i) for i in items]})

    def done(self, *, outcome: str, completed_epochs: int) -> None:
        self.emit("done", {"outcome": outcome, "completedEpochs": int(completed_epochs)})


def prediction_item(*, input: str, label: str, probability: float,
                    top: Sequence[tuple[str, float]] | Sequence[dict]) -> dict:
    """One Prediction message; also the record written to predictions.json."""
    top_items = [t if isinstance(t, dict) else {"name": str(t[0]), "value": proto_double(t[1])}
                 for t in top]
    return {"input": input, "label": label, "probability": proto_double(probability),
            "top": top_items}
