"""The worker process: warm start, one job, one outcome. See PROTOCOL.md."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import traceback
import warnings
from pathlib import Path

from .events import ERROR_CUDA_OOM, ERROR_DATA, ERROR_EXCEPTION, EventWriter
from .job import ENVELOPE_FIELDS, DataError, Job, ProtocolError, ResumePlan, resolved, set_current
from .ranks import RankFailed

_EVENTS_FD_ENV = "GPULINK_EVENTS_FD"
_MAX_MESSAGE = 1000


def _die_with_agent() -> None:
    """Linux: have the kernel kill this worker when the agent process dies.

    The worker runs in its own process group (so the agent can stop it and its children as one),
    which also means it would outlive a SIGKILLed agent and keep training for nobody. A restarted
    agent marks such a job INTERRUPTED and resumes it from its last checkpoint instead.
    """
    if sys.platform != "linux":
        return
    try:
        import ctypes
        import signal

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    except (OSError, AttributeError):
        pass  # Not fatal: the restarted agent also kills workers left from its predecessor.


def prepare_process() -> None:
    """What every worker process sets before importing fastai (the agent's worker and each rank)."""
    # Before fastai imports matplotlib: a worker has no display, and lr_find()/plot calls in a
    # user's script must not try to open one.
    os.environ.setdefault("MPLBACKEND", "Agg")
    for stream in (sys.stdout, sys.stderr):
        # print() in a job must reach the agent's log as it happens, not when a buffer fills.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)
    # pandas 3 hands out read-only arrays (copy-on-write) and fastai's tabular batches turn them
    # into tensors: torch warns once per job about a write that never happens. Noise in every log.
    warnings.filterwarnings("ignore", message="The given NumPy array is not writable")


def main() -> int:
    _die_with_agent()
    prepare_process()
    fd_text = os.environ.get(_EVENTS_FD_ENV, "3")
    try:
        writer = EventWriter.open_fd(int(fd_text))
    except (OSError, ValueError) as e:
        print(f"gpulink worker: the event channel (fd {fd_text}) is not open ({e}). The worker is "
              f"started by gpulink-agent with a pipe on fd 3 (or the fd named by {_EVENTS_FD_ENV}); "
              f"to try it by hand: python -m gpulink_worker 3>events.ndjson < envelope.json",
              file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
        import fastai.tabular.all  # noqa: F401
        import fastai.vision.all  # noqa: F401
        from .callback import install
        install()
        writer.ready(ready_info())
    except BaseException as e:
        _report(writer, e, kind="ERROR_KIND_WORKER_START")
        return 1

    line = sys.stdin.readline()
    if not line.strip():
        return 0  # the agent closed a warm worker it no longer needs
    control = sys.stdin
    # A user's script gets an empty stdin, as in a non-interactive run; the control lines are ours.
    sys.stdin = open(os.devnull, encoding="utf-8")
    job: Job | None = None
    try:
        envelope = json.loads(line)
        if not isinstance(envelope, dict):
            raise ValueError("the job envelope must be a JSON object")
        job = make_job(writer, envelope)
        job.start_control_reader(control)
        set_current(job)
        if int(envelope.get("processes") or 1) > 1:
            from .ranks import run_ranks
            outcome = run_ranks(job, envelope)
        else:
            setup_device(job.device)
            from .tasks import run_task
            outcome = run_task(job)
    except RankFailed as e:
        writer.error(**e.report)  # the failing rank's own error, traceback and all
        return 1
    except BaseException as e:
        if job is not None and job.cancelled and not isinstance(e, KeyboardInterrupt):
            # Stopping a job mid-way can break what comes after the fit (a user's script reading
            # results that were never computed); the user asked to stop, so that is the outcome.
            print("gpulink worker: after the cancel request the job raised:", file=sys.stderr)
            traceback.print_exception(e, file=sys.stderr)
            writer.done(outcome="cancelled", completed_epochs=job.completed_epochs)
            return 0
        _report(writer, e)
        return 1
    writer.done(outcome=outcome, completed_epochs=job.completed_epochs)
    return 0


def make_job(writer: EventWriter, envelope: dict) -> Job:
    unknown = sorted(set(envelope) - set(ENVELOPE_FIELDS))
    if unknown:
        raise ProtocolError(f"the job envelope has fields this worker does not know: {', '.join(unknown)}")
    for key in ("artifactsDir", "device", "spec", "batchEventsPerSecond"):
        if not envelope.get(key):
            raise ProtocolError(f"the job envelope has no {key}")
    policy = envelope["spec"].get("checkpoint")
    job = Job(
        writer=writer, envelope=envelope, artifacts_dir=Path(envelope["artifactsDir"]),
        device=str(envelope["device"]),
        batch_events_per_second=float(envelope["batchEventsPerSecond"]),
        checkpoint_every_epoch=bool(policy and policy.get("everyEpoch")),
        checkpoint_keep_last=int(resolved(policy, "keepLast", "checkpoint")) if policy else 0,
    )
    resume = envelope.get("resume")
    if resume:
        from .callback import read_checkpoint_meta
        checkpoint = Path(resume.get("checkpoint") or "")
        if not checkpoint.is_file():
            raise FileNotFoundError(f"resume: checkpoint {checkpoint} does not exist")
        # The checkpoint says how far it got. The agent's log may be ahead of it (an epoch logged,
        # then a kill before its checkpoint was written): that epoch runs again.
        meta = read_checkpoint_meta(checkpoint)
        job.resume = ResumePlan(
            checkpoint=checkpoint, fit_index=int(meta["fitIndex"]), epoch=int(meta["epoch"]),
            completed_epochs=int(meta["completedEpochs"]),
        )
        job.completed_epochs = job.resume.completed_epochs
    return job


def setup_device(device: str) -> None:
    import torch
    from fastai.torch_core import default_device
    if device == "cpu":
        default_device(False)  # fastai's global: every DataLoader a script builds stays on the CPU
        return
    if not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r} (expected 'cpu' or 'cuda:N')")
    if not torch.cuda.is_available():
        raise RuntimeError(f"the job was sent to {device} but torch sees no CUDA device "
                           f"(torch {torch.__version__}, CUDA build {torch.version.cuda})")
    torch.cuda.set_device(int(device.split(":", 1)[1]) if ":" in device else 0)
    default_device(True)
    torch.cuda.reset_peak_memory_stats()


def ready_info() -> dict:
    import fastai
    import torch
    gpus = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            uuid = str(getattr(p, "uuid", "") or "")
            if uuid and not uuid.startswith(("GPU-", "MIG-")):
                # torch prints the bare UUID; nvidia-smi (which the agent samples) prefixes it.
                uuid = f"GPU-{uuid}"
            gpus.append({
                "index": i, "name": p.name,
                "uuid": uuid,
                "memoryTotalBytes": int(p.total_memory),
                "computeCapability": f"{p.major}.{p.minor}",
            })
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {
        "pythonVersion": platform.python_version(),
        "pythonExecutable": sys.executable,
        "torchVersion": torch.__version__,
        "fastaiVersion": fastai.__version__,
        "cudaVersion": torch.version.cuda or "",
        "cudnnVersion": str(cudnn) if cudnn else "",
        "cudaAvailable": bool(torch.cuda.is_available()),
        "cudnnEnabled": bool(torch.backends.cudnn.enabled),
        "gpus": gpus,
        "timmAvailable": importlib.util.find_spec("timm") is not None,
    }


def _chain(e: BaseException):
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        yield e
        e = e.__cause__ or e.__context__


def _find_cuda_oom(e: BaseException) -> BaseException | None:
    """The CUDA out-of-memory error in an exception's chain (fastai re-raises some wrapped)."""
    try:
        import torch
        oom_type = torch.cuda.OutOfMemoryError
    except Exception:
        oom_type = None
    for x in _chain(e):
        if (oom_type is not None and isinstance(x, oom_type)) or "CUDA out of memory" in str(x):
            return x
    return None


# Where torchvision (torch.hub) and timm (huggingface_hub) fetch pretrained weights, and the local
# that names what they fetch.
_WEIGHT_DOWNLOADS = {"load_state_dict_from_url": "url", "download_url_to_file": "url",
                     "hf_hub_download": "repo_id"}


def _failed_weights_download(e: BaseException) -> str | None:
    """What a failed download of pretrained weights fetched (a file or hub repo), if that is what failed."""
    import urllib.error
    for x in _chain(e):
        if not isinstance(x, (urllib.error.URLError, ConnectionError, TimeoutError)) and \
                type(x).__module__.split(".")[0] not in ("requests", "huggingface_hub", "urllib3"):
            continue
        tb = x.__traceback__
        while tb is not None:
            local = _WEIGHT_DOWNLOADS.get(tb.tb_frame.f_code.co_name)
            if local is not None:
                what = str(tb.tb_frame.f_locals.get(local, "")).rstrip("/")
                return what.rsplit("/", 1)[-1] if local == "url" else what
            tb = tb.tb_next
    return None


def _peak_cuda_bytes() -> int:
    try:
        import torch
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            return int(torch.cuda.max_memory_allocated())
    except Exception:
        pass
    return 0


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 3] + "..."


def _report(writer: EventWriter, e: BaseException, kind: str | None = None) -> None:
    peak = _peak_cuda_bytes()
    exc_type = type(e).__name__
    oom = _find_cuda_oom(e) if kind is None else None
    if oom is not None:
        kind = ERROR_CUDA_OOM
        message = (f"CUDA out of memory (peak {peak / 2**30:.2f} GiB allocated): lower the batch "
                   f"size or image size, or turn on fp16")
        exc_type = type(oom).__name__
    elif kind is None and (weights := _failed_weights_download(e)) is not None:
        kind = ERROR_EXCEPTION
        message = _one_line(
            f"the pretrained weights {weights} could not be downloaded (is the agent's machine offline?): "
            f"train with --no-pretrained (pretrained: false in the SDK), or put the weights in torch's "
            f"cache; the traceback is in the job's log")
    elif kind is None and isinstance(e, DataError):
        kind = ERROR_DATA
        message = _one_line(str(e))
        if e.__cause__ is not None:
            exc_type = type(e.__cause__).__name__
    else:
        kind = kind or ERROR_EXCEPTION
        # fastai wraps a callback's exception as "Exception occured in `Cb` when calling event
        # `after_epoch`:\n\t<the original message>": keep every line, or the cause is lost.
        detail = " ".join(line.strip() for line in str(e).strip().splitlines() if line.strip())
        if isinstance(e, SystemExit):
            detail = f"exit status {e.code}"
        message = _one_line(f"{exc_type}: {detail}" if detail else exc_type)
    # The message is the one line users read; the job's log (stderr) keeps how it came about.
    traceback.print_exception(e, file=sys.stderr)
    writer.error(kind=kind, message=message, exception_type=exc_type,
                 traceback="".join(traceback.format_exception(e)),
                 peak_cuda_memory_bytes=peak)
