"""Shared helpers: tiny real datasets, running the worker exactly as the agent does, and strict
checks of every event's shape against proto/gpulink/v1/events.proto (proto3 canonical JSON)."""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Test machines are small and shared: torch's OpenMP threads spin when other processes hold the
# cores, and an epoch can take 10x longer. One thread per process (this one, before anything
# imports torch, and every worker it starts) keeps runs steady. An explicit setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

PYTHON_DIR = Path(__file__).resolve().parent.parent

# --- data -------------------------------------------------------------------------------------


def write_digits(root: Path, indices, size: int = 32, layout: str = "folders") -> Path:
    """scikit-learn's 8x8 digits as PNGs: root/<label>/<i>.png, or root/<label>_<i>.png ('flat')."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits
    digits = load_digits()
    root.mkdir(parents=True, exist_ok=True)
    for i in indices:
        img = Image.fromarray((digits.images[i] * (255 / 16)).astype(np.uint8))
        img = img.resize((size, size), Image.BILINEAR)
        label = int(digits.target[i])
        if layout == "folders":
            (root / str(label)).mkdir(exist_ok=True)
            img.save(root / str(label) / f"{i}.png")
        else:
            img.save(root / f"d{label}_{i}.png")
    return root


@functools.lru_cache(maxsize=1)
def _digit_targets():
    from sklearn.datasets import load_digits
    return load_digits().target


def digit_label(i: int) -> str:
    return str(int(_digit_targets()[i]))


def write_breast_cancer(path: Path) -> Path:
    """The breast-cancer table as CSV: 30 numeric columns, a text column, a text target."""
    from sklearn.datasets import load_breast_cancer
    data = load_breast_cancer(as_frame=True)
    df = data.frame.copy()
    df["diagnosis"] = [str(data.target_names[t]) for t in df.pop("target")]
    # A text column, so default column inference has a categorical one to find.
    df["size_group"] = ["large" if r > 15 else "small" for r in df["mean radius"]]
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory) -> Path:
    return write_digits(tmp_path_factory.mktemp("digits") / "images", range(600))


def write_digits_flat(root: Path, indices, size: int = 16) -> Path:
    """Flat digits (d<label>_<i>.png under root/imgs) and root/labels.csv (file,label,is_valid)."""
    write_digits(root / "imgs", indices, size=size, layout="flat")
    rows = ["file,label,is_valid"]
    for n, i in enumerate(indices):
        rows.append(f"d{digit_label(i)}_{i}.png,{digit_label(i)},{'true' if n % 5 == 0 else 'false'}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.fixture(scope="session")
def digits_flat(tmp_path_factory) -> Path:
    return write_digits_flat(tmp_path_factory.mktemp("digits_flat"), range(200))


@pytest.fixture(scope="session")
def cancer_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cancer")
    write_breast_cancer(root / "cancer.csv")
    return root


# --- running the worker -----------------------------------------------------------------------


@dataclass
class WorkerRun:
    events: list[dict]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    cancel_sent_after: int | None = None  # index into events when the cancel line was written
    lines: list[str] = field(default_factory=list)  # fd 3 exactly as written

    def kinds(self) -> list[str]:
        return [next(iter(e)) for e in self.events]

    def of(self, kind: str) -> list[dict]:
        return [e[kind] for e in self.events if kind in e]

    def one(self, kind: str) -> dict:
        found = self.of(kind)
        assert len(found) == 1, f"expected one {kind} event, got {len(found)}: {self.kinds()}"
        return found[0]

    def describe(self) -> str:
        return (f"exit {self.returncode}\nkinds: {self.kinds()}\nstdout:\n{self.stdout[-3000:]}\n"
                f"stderr:\n{self.stderr[-6000:]}")


# --- specs and envelopes ------------------------------------------------------------------------
# The agent hands the worker a spec with every default filled in (PROTOCOL.md), so a spec a test
# writes carries every field the agent fills in too: here at values small enough for a CPU test,
# which each test overrides where it matters. These are test settings, not the contract's defaults.

_VISION = {"labels": {"folder": {}}, "arch": "resnet18", "pretrained": False, "imageSize": 16,
           "batchSize": 16, "validPct": 0.2, "seed": 42, "epochs": 1,
           "fitMethod": "FIT_METHOD_FIT_ONE_CYCLE", "freezeEpochs": 1, "metrics": ["accuracy"]}
_TABULAR = {"procs": ["TABULAR_PROC_CATEGORIFY", "TABULAR_PROC_FILL_MISSING", "TABULAR_PROC_NORMALIZE"],
            "layers": [200, 100], "batchSize": 64, "validPct": 0.2, "seed": 42, "epochs": 1,
            "fitMethod": "FIT_METHOD_FIT_ONE_CYCLE", "metrics": ["accuracy"]}
LR_FIND_SPAN = {"startLr": 1e-7, "endLr": 10, "numIterations": 100}


def vision_task(**fields) -> dict:
    """A VisionTask as the agent resolves it, with `fields` set."""
    return {**_VISION, **fields}


def tabular_task(**fields) -> dict:
    """A TabularTask as the agent resolves it, with `fields` set."""
    return {**_TABULAR, **fields}


def envelope(spec: dict, artifacts: Path, *, data_dir=None, workspace_dir=None, model_path=None,
             resume=None, rate: float = 10, device: str = "cpu") -> dict:
    """A WorkerEnvelope in proto3 JSON, as the agent writes it: unset fields absent."""
    optional = {"dataDir": data_dir, "workspaceDir": workspace_dir, "modelPath": model_path}
    return {
        "jobId": "job_test", "attempt": 1 if resume is None else 2, "spec": spec,
        **{k: str(v) for k, v in optional.items() if v},
        "artifactsDir": str(artifacts), "workDir": str(artifacts.parent), "device": device,
        **({"resume": resume} if resume else {}), "batchEventsPerSecond": rate,
    }


def run_worker(env: dict, *, cwd: Path, cancel_when=None, timeout: float = 300,
               extra_env: dict | None = None) -> WorkerRun:
    """Starts `python -m gpulink_worker` as the agent does: its own process group, the envelope
    on stdin after `ready`, events on a pipe at fd 3. `cancel_when(event)` returning True makes
    it write the cancel control line at that moment."""
    read_fd, write_fd = os.pipe()
    proc_env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
    t0 = time.monotonic()
    # The pipe's write end must be fd 3 in the worker, as the agent's spawn sets it up. A tiny
    # launcher moves it there and then becomes the worker (exec): same pid, own process group.
    launcher = ("import os, sys; fd = int(sys.argv[1]); os.dup2(fd, 3)\n"
                "if fd != 3: os.close(fd)\n"
                "os.execv(sys.executable, [sys.executable, '-m', 'gpulink_worker'])")
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, str(write_fd)],
        cwd=cwd, env=proc_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, pass_fds=(write_fd,), start_new_session=True,
    )
    os.close(write_fd)
    out: dict[str, str] = {}
    readers = [threading.Thread(target=lambda s=s, k=k: out.__setitem__(k, s.read()), daemon=True)
               for k, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    events: list[dict] = []
    raw_lines: list[str] = []
    cancel_at = None
    sent_envelope = False
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass

    watchdog = threading.Timer(timeout, kill)
    watchdog.start()
    with os.fdopen(read_fd, "r", encoding="utf-8") as chan:
        for line in chan:
            raw_lines.append(line)
            event = json.loads(line)
            events.append(event)
            if not sent_envelope and "ready" in event:
                proc.stdin.write(json.dumps(env) + "\n")
                proc.stdin.flush()
                sent_envelope = True
            elif cancel_when is not None and cancel_at is None and cancel_when(event):
                proc.stdin.write(json.dumps({"cancel": {"reason": "test"}}) + "\n")
                proc.stdin.flush()
                cancel_at = len(events)
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    code = proc.wait(timeout=60)
    watchdog.cancel()
    for r in readers:
        r.join(timeout=10)
    if timed_out.is_set():
        raise AssertionError(f"worker ran past {timeout}s; events: {[next(iter(e)) for e in events]}"
                             f"\nstderr: {out.get('stderr', '')[-3000:]}")
    return WorkerRun(events, code, out.get("stdout", ""), out.get("stderr", ""),
                     time.monotonic() - t0, cancel_at, raw_lines)


# --- strict shapes ----------------------------------------------------------------------------

# kind -> (required keys, optional keys). Optional: proto3 `optional` fields and messages that are
# unset in some situations; everything else the worker always writes.
SHAPES: dict[str, tuple[set, set]] = {
    "ready": ({"pythonVersion", "pythonExecutable", "torchVersion", "fastaiVersion", "cudaVersion",
               "cudnnVersion", "cudaAvailable", "cudnnEnabled", "gpus", "timmAvailable"}, set()),
    "fitStarted": ({"nEpoch", "startEpoch", "trainBatches", "validBatches", "metricNames",
                    "fitIndex", "trainItems", "validItems"}, set()),
    "batch": ({"epoch", "iter", "nIter", "training", "itemsPerSecond", "fitIndex"},
              {"smoothLoss", "lr"}),
    "epochEnded": ({"epoch", "nEpoch", "metrics", "durationMs", "fitIndex", "completedEpochs"},
                   {"trainLoss", "validLoss", "cudaMemory"}),
    "lrFindProgress": ({"iter", "nIter", "lr"}, {"smoothLoss"}),
    "lrFindResult": ({"lrs", "losses", "suggestions"}, set()),
    "artifact": ({"name", "sizeBytes", "sha256", "kind", "createdAt"}, set()),
    "interpretation": ({"classes", "confusionMatrix", "mostConfused"}, set()),
    "warning": ({"code", "message"}, set()),
    "error": ({"kind", "message", "exceptionType", "traceback", "peakCudaMemoryBytes"}, set()),
    "predictions": ({"items"}, set()),
    "phase": ({"description"}, set()),
    "done": ({"outcome", "completedEpochs"}, set()),
}


def _keys(obj: dict, required: set, optional: set = frozenset(), where: str = "") -> None:
    keys = set(obj)
    assert required <= keys, f"{where}: missing {required - keys} in {obj}"
    assert keys <= required | optional, f"{where}: unexpected {keys - required - optional} in {obj}"


def _uint(v, where):
    assert isinstance(v, int) and not isinstance(v, bool) and v >= 0, f"{where}: {v!r} is not a uint"


def _double(v, where):
    ok = (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in ("NaN", "Infinity", "-Infinity")
    assert ok, f"{where}: {v!r} is not a proto3 JSON double"


def _metric_list(items, where):
    assert isinstance(items, list), where
    for m in items:
        _keys(m, {"name", "value"}, where=where)
        assert isinstance(m["name"], str)
        _double(m["value"], where)


def check_event(event: dict) -> str:
    """Asserts one fd-3 line has exactly the shape the contract allows; returns its kind."""
    assert isinstance(event, dict) and len(event) == 1, f"not one top-level key: {event}"
    kind, body = next(iter(event.items()))
    assert kind in SHAPES, f"unknown event kind {kind}"
    required, optional = SHAPES[kind]
    _keys(body, required, optional, kind)
    if kind == "ready":
        for k in ("pythonVersion", "pythonExecutable", "torchVersion", "fastaiVersion",
                  "cudaVersion", "cudnnVersion"):
            assert isinstance(body[k], str), k
        for k in ("cudaAvailable", "cudnnEnabled", "timmAvailable"):
            assert isinstance(body[k], bool), k
        for g in body["gpus"]:
            _keys(g, {"index", "name", "uuid", "memoryTotalBytes", "computeCapability"}, where="gpu")
    elif kind == "fitStarted":
        for k in required - {"metricNames"}:
            _uint(body[k], f"fitStarted.{k}")
        assert all(isinstance(n, str) for n in body["metricNames"])
        assert not {"epoch", "train_loss", "valid_loss", "time"} & set(body["metricNames"])
    elif kind == "batch":
        for k in ("epoch", "iter", "nIter", "fitIndex"):
            _uint(body[k], f"batch.{k}")
        assert isinstance(body["training"], bool)
        assert 1 <= body["iter"] <= body["nIter"], body
        for k in ("itemsPerSecond", "smoothLoss", "lr"):
            if k in body:
                _double(body[k], f"batch.{k}")
        if not body["training"]:
            assert "smoothLoss" not in body, "smoothLoss is for training batches only"
    elif kind == "epochEnded":
        for k in ("epoch", "nEpoch", "durationMs", "fitIndex", "completedEpochs"):
            _uint(body[k], f"epochEnded.{k}")
        for k in ("trainLoss", "validLoss"):
            if k in body:
                _double(body[k], k)
        _metric_list(body["metrics"], "epochEnded.metrics")
        if "cudaMemory" in body:
            _keys(body["cudaMemory"], {"allocatedBytes", "reservedBytes", "peakAllocatedBytes"},
                  where="cudaMemory")
    elif kind == "lrFindProgress":
        _uint(body["iter"], "lrFindProgress.iter")
        _uint(body["nIter"], "lrFindProgress.nIter")
        assert 1 <= body["iter"] <= body["nIter"]
        _double(body["lr"], "lrFindProgress.lr")
        if "smoothLoss" in body:
            _double(body["smoothLoss"], "lrFindProgress.smoothLoss")
    elif kind == "lrFindResult":
        assert len(body["lrs"]) == len(body["losses"]) > 0
        for v in body["lrs"] + body["losses"]:
            _double(v, "lrFindResult")
        for s in body["suggestions"]:
            _keys(s, {"method", "lr"}, where="suggestion")
            assert s["method"] in {"valley", "slide", "minimum", "steep"}
            _double(s["lr"], "suggestion.lr")
    elif kind == "artifact":
        _uint(body["sizeBytes"], "artifact.sizeBytes")
        assert len(body["sha256"]) == 64 and body["sha256"] == body["sha256"].lower()
        assert body["kind"] in {"model", "checkpoint", "predictions", "plot", "file"}
        assert not body["name"].startswith("/") and ".." not in body["name"].split("/")
        assert body["createdAt"].endswith("Z")
    elif kind == "interpretation":
        n = len(body["classes"])
        assert len(body["confusionMatrix"]) == n * n
        for v in body["confusionMatrix"]:
            _uint(v, "confusionMatrix")
        for p in body["mostConfused"]:
            _keys(p, {"actual", "predicted", "count"}, where="mostConfused")
            assert p["actual"] in body["classes"] and p["predicted"] in body["classes"]
            _uint(p["count"], "mostConfused.count")
    elif kind == "warning":
        assert isinstance(body["code"], str) and isinstance(body["message"], str)
    elif kind == "error":
        assert body["kind"].startswith("ERROR_KIND_") and body["kind"] != "ERROR_KIND_UNSPECIFIED"
        assert isinstance(body["message"], str) and "\n" not in body["message"]
        _uint(body["peakCudaMemoryBytes"], "peakCudaMemoryBytes")
    elif kind == "predictions":
        for item in body["items"]:
            _keys(item, {"input", "label", "probability", "top"}, where="prediction")
            _double(item["probability"], "probability")
            _metric_list(item["top"], "prediction.top")
    elif kind == "done":
        assert body["outcome"] in {"succeeded", "cancelled"}
        _uint(body["completedEpochs"], "done.completedEpochs")
    return kind


def check_run(run: WorkerRun, *, ok: bool = True) -> None:
    """Every line well-formed, `ready` first, and exactly one terminal line last."""
    assert run.events, run.describe()
    for e in run.events:
        check_event(e)
    kinds = run.kinds()
    assert kinds[0] == "ready", kinds
    assert kinds.count("ready") == 1
    if ok:
        assert run.returncode == 0, run.describe()
        assert kinds[-1] == "done" and kinds.count("done") == 1, run.describe()
        assert "error" not in kinds, run.describe()
    else:
        assert run.returncode == 1, run.describe()
        assert kinds[-1] == "error" and kinds.count("error") == 1, run.describe()
        assert "done" not in kinds


def check_fit_sequence(run: WorkerRun) -> None:
    """Batch/epoch events belong to a started fit, epochs in order, completedEpochs counting up."""
    fits: dict[int, dict] = {}
    completed = None
    for e in run.events:
        kind, body = next(iter(e.items()))
        if kind == "fitStarted":
            assert body["fitIndex"] not in fits
            fits[body["fitIndex"]] = body
        elif kind in ("batch", "epochEnded"):
            fit = fits.get(body["fitIndex"])
            assert fit is not None, f"{kind} before its fitStarted: {body}"
            assert fit["startEpoch"] <= body["epoch"] < fit["nEpoch"], body
            if kind == "epochEnded":
                assert body["nEpoch"] == fit["nEpoch"]
                assert [m["name"] for m in body["metrics"]] == fit["metricNames"]
                if completed is not None:
                    assert body["completedEpochs"] == completed + 1
                completed = body["completedEpochs"]


def value(x) -> float:
    return float(x) if not isinstance(x, str) else float(x.replace("Infinity", "inf"))


def is_finite(x) -> bool:
    return math.isfinite(value(x))


def failing_tabular_script(at_batch: int, message: str) -> str:
    """A fastai script (breast-cancer CSV as argv[1]) whose loss raises `message` at batch `at_batch`."""
    return f'''\
from fastai.tabular.all import *
import sys

calls = 0

def flaky_loss(pred, targ):
    global calls
    calls += 1
    if calls == {at_batch}:
        raise RuntimeError({message!r})
    return CrossEntropyLossFlat()(pred, targ)

df = pd.read_csv(sys.argv[1])
dls = TabularDataLoaders.from_df(df, y_names="diagnosis", cont_names=["mean radius", "mean texture"],
                                 procs=[Normalize], bs=32, num_workers=0)
learn = tabular_learner(dls, layers=[8], loss_func=flaky_loss)
learn.fit(2)
'''
