"""The built-in tasks: vision, tabular, lr_find, script and predict.

Each returns the job's outcome, "succeeded" or "cancelled"; errors propagate to the entry point,
which reports them.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

import torch
import fastai.metrics as fastai_metrics
from fastai.callback.schedule import minimum, slide, steep, valley
from fastai.interpret import ClassificationInterpretation
from fastai.tabular.learner import tabular_learner
from fastai.torch_core import set_seed
from fastai.vision.learner import vision_learner

from . import data as datamod
from .job import DataError, Job, ProtocolError, resolved
from .plots import save_loss_plot, save_lr_find_plot
from .predict import predict_task, vocab_of

# The spec arrives with every default filled in by the agent (PROTOCOL.md), and checked there:
# this module reads values (`resolved` for those the agent always sets) and checks none again.
_SUGGESTIONS = (("valley", valley), ("slide", slide), ("minimum", minimum), ("steep", steep))
# Names in fastai.metrics that are building blocks, not metrics.
_NOT_METRIC = {"AccumMetric", "skm_to_fastai", "optim_metric", "LossMetric", "LossMetrics"}
# A confusion matrix of more classes than this would make one event of megabytes.
_MAX_INTERPRETATION_CLASSES = 256


def run_task(job: Job) -> str:
    spec = job.spec
    with _workdir() as work:
        if "vision" in spec:
            return train(job, "vision", spec["vision"] or {}, work)
        if "tabular" in spec:
            return train(job, "tabular", spec["tabular"] or {}, work)
        if "lrFind" in spec:
            return lr_find_task(job, spec["lrFind"] or {}, work)
        if "script" in spec:
            return script_task(job, spec["script"] or {})
        if "predict" in spec:
            return predict_task(job, spec["predict"] or {})
    raise ValueError("the job spec sets no task (vision, tabular, script, lrFind or predict)")


@contextlib.contextmanager
def _workdir():
    # learn.path: where lr_find keeps its temporary weights, never the (shared) dataset folder.
    path = Path(tempfile.mkdtemp(prefix="gpulink-work-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _data_phase(what: str):
    """Any failure while loading data is a data error, with the original exception as cause."""
    try:
        yield
    except DataError:
        raise
    except Exception as e:
        raise DataError(f"could not load the {what} data: {type(e).__name__}: {e}") from e


def _num_workers(job: Job) -> int:
    # CPU jobs train on tiny data in tests and on CPU-only runtimes; worker processes only pay
    # off when a GPU waits for decoded images.
    return 0 if not job.on_cuda else min(4, os.cpu_count() or 1)


# --- learners ---------------------------------------------------------------------------------

def resolve_arch(name: str):
    """A torchvision or fastai (xresnet) model function, or a timm model name."""
    import torchvision.models as tvm
    from fastai.vision.models import xresnet
    if name in tvm.list_models(module=tvm):
        return getattr(tvm, name)
    if name in xresnet.__all__ and name.startswith("x"):
        return getattr(xresnet, name)
    try:
        import timm
    except ImportError:
        raise ValueError(f"unknown architecture {name!r}: not a torchvision or fastai model, and "
                         f"timm is not installed") from None
    if timm.is_model(name.split(".")[0]):
        return name
    raise ValueError(f"unknown architecture {name!r}: not a torchvision, fastai or timm model name")


def resolve_metrics(names: list[str], n_classes: int) -> list:
    """fastai metrics by name: 'accuracy', 'error_rate', 'f1_score' (F1Score), 'rmse', ..."""
    available = set(fastai_metrics.__all__) - _NOT_METRIC
    out = []
    for name in names:
        camel = "".join(p[:1].upper() + p[1:] for p in name.split("_"))
        key = name if name in available else camel if camel in available else None
        if key is None:
            raise ValueError(f"unknown metric {name!r}; fastai has: {', '.join(sorted(available))}")
        obj = getattr(fastai_metrics, key)
        if key[:1].isupper():
            # Factories (F1Score, Precision, RocAuc, ...). sklearn's 'binary' average fails on
            # more than two classes; 'macro' is the usual choice there.
            kwargs = {}
            try:
                params = inspect.signature(obj).parameters
            except (TypeError, ValueError):
                params = {}
            if "average" in params and n_classes > 2:
                kwargs["average"] = "macro"
            try:
                obj = obj(**kwargs)
            except TypeError as e:
                raise ValueError(f"metric {name!r} needs arguments and cannot be used by name: {e}") from e
        out.append(obj)
    return out


def _lr(task: dict):
    """'find', a fixed rate, or None: unset, which leaves fastai its own default for the method."""
    lr = task.get("lr") or {}
    if lr.get("find"):
        return "find"
    return float(lr["fixed"]) if lr.get("fixed") is not None else None


def _fit_method(task: dict, kind: str) -> str:
    """The Learner method a FitMethod names: FIT_METHOD_FIT_ONE_CYCLE is learn.fit_one_cycle."""
    name = resolved(task, "fitMethod", kind)
    if not isinstance(name, str) or not name.startswith("FIT_METHOD_") or name.endswith("_UNSPECIFIED"):
        raise ProtocolError(f"{kind}.fitMethod: {name!r} is not a FitMethod of the contract")
    return name.removeprefix("FIT_METHOD_").lower()


def build_learner(job: Job, kind: str, task: dict, work: Path):
    seed = int(resolved(task, "seed", kind))
    set_seed(seed)
    device = torch.device(job.device)
    if kind == "vision":
        root = datamod.resolve_data(task.get("data"), job.data_dir, "vision data")
        with _data_phase("image"):
            dls = datamod.vision_dataloaders(task, root, seed=seed, device=device,
                                             num_workers=_num_workers(job))
        arch = resolve_arch(resolved(task, "arch", kind))
        metrics = resolve_metrics(task.get("metrics") or [], dls.c)
        pretrained = bool(resolved(task, "pretrained", kind))
        learn = vision_learner(dls, arch, pretrained=pretrained, metrics=metrics, path=work)
        if task.get("fp16"):
            if job.on_cuda:
                learn = learn.to_fp16()
            else:
                job.writer.warning(code="fp16_on_cpu",
                                   message="fp16 (mixed precision) needs a GPU; training in fp32 on the CPU")
        return learn, pretrained
    root = datamod.resolve_data(task.get("data"), job.data_dir, "tabular data")
    with _data_phase("tabular"):
        dls = datamod.tabular_dataloaders(task, root, seed=seed, device=device,
                                          num_workers=_num_workers(job))
    regression = bool(task.get("regression"))
    metrics = resolve_metrics(task.get("metrics") or [], 0 if regression else dls.c)
    layers = [int(x) for x in resolved(task, "layers", kind)]
    y_range = None
    if regression:
        # fastai's advice for regression: squash the output into the target's range. Without
        # it a target in the hundreds takes many epochs just to reach the right scale.
        ys = dls.train.ys.to_numpy(dtype="float64")
        lo, hi = float(ys.min()), float(ys.max())
        pad = 0.05 * (hi - lo) or 1.0
        y_range = (lo - pad, hi + pad)
    learn = tabular_learner(dls, layers=layers, metrics=metrics, path=work, y_range=y_range)
    return learn, False


def _suggestions(learn, num_it: int) -> list[tuple[str, float]]:
    """fastai's lr_find suggestions, computed the way Learner.lr_find does; one that cannot be
    computed (a curve cut short by divergence) is left out instead of failing the job."""
    lrs = torch.tensor([float(x) for x in learn.recorder.lrs])[num_it // 10:-5]
    losses = torch.tensor([float(x) for x in learn.recorder.losses])[num_it // 10:-5]
    nan = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan) > 0:
        lrs, losses = lrs[:int(nan.min())], losses[:int(nan.min())]
    out = []
    for name, func in _SUGGESTIONS:
        try:
            lr, _ = func(lrs, losses, num_it)
            out.append((name, float(lr)))
        except Exception:
            continue
    return out


def run_lr_find(job: Job, learn, **span) -> list[tuple[str, float]] | None:
    """Runs the finder over `span` (start_lr, end_lr, num_it; none given: fastai's own) and emits
    lrFindResult; None when it was cancelled."""
    learn.lr_find(**span, show_plot=False, suggest_funcs=None)
    if job.cancelled:
        return None
    suggestions = _suggestions(learn, span.get("num_it") or len(learn.recorder.lrs))
    job.writer.lr_find_result(lrs=[float(x) for x in learn.recorder.lrs],
                              losses=[float(x) for x in learn.recorder.losses],
                              suggestions=suggestions)
    save_lr_find_plot(job, learn, suggestions)
    return suggestions


def train(job: Job, kind: str, task: dict, work: Path) -> str:
    epochs = int(resolved(task, "epochs", kind))
    method = _fit_method(task, kind)
    learn, _ = build_learner(job, kind, task, work)
    lr = _lr(task)
    if lr == "find":
        suggestions = run_lr_find(job, learn)
        if suggestions is None:
            return "cancelled"
        lr = dict(suggestions).get("valley")
        if lr is None:
            raise RuntimeError("the learning-rate finder found no 'valley' suggestion; set lr.fixed")
    # Each method takes the epochs, then the learning rate (base_lr, lr_max, lr) positionally.
    extra = {"freeze_epochs": int(resolved(task, "freezeEpochs", kind))} if method == "fine_tune" else {}
    getattr(learn, method)(epochs, *([] if lr is None else [lr]), **extra)
    if job.cancelled:
        return "cancelled"
    job.writer.phase("exporting the model")
    export(job, learn)
    save_loss_plot(job, learn)
    if kind == "vision" or not task.get("regression"):
        job.writer.phase("interpreting results")
        interpret(job, learn)
    return "succeeded"


def export(job: Job, learn) -> None:
    job.artifacts_dir.mkdir(parents=True, exist_ok=True)
    target = job.artifacts_dir / "export.pkl"
    # learn.path goes into the pickle; '.' makes the loaded model save next to the user's cwd.
    old_path, learn.path = learn.path, Path(".")
    try:
        learn.export(target.resolve())
    finally:
        learn.path = old_path
    job.announce_artifact(target, "model")


def interpret(job: Job, learn) -> None:
    try:
        if len(learn.dls.valid_ds) == 0:
            return
    except Exception:
        return
    vocab = vocab_of(learn)
    if vocab is None or len(vocab) > _MAX_INTERPRETATION_CLASSES:
        return
    interp = ClassificationInterpretation.from_learner(learn)
    classes = [str(c) for c in interp.vocab]
    cm = interp.confusion_matrix()
    pairs = interp.most_confused(min_val=1)[:50]
    job.writer.interpretation(classes=classes, confusion_matrix=[int(x) for x in cm.flatten()],
                              most_confused=[(str(a), str(p), int(c)) for a, p, c in pairs])


# --- lr_find ----------------------------------------------------------------------------------

def lr_find_task(job: Job, task: dict, work: Path) -> str:
    if "vision" in task:
        learn, _ = build_learner(job, "vision", task["vision"] or {}, work)
    elif "tabular" in task:
        learn, _ = build_learner(job, "tabular", task["tabular"] or {}, work)
    else:
        raise ValueError("lrFind needs a vision or tabular setup")
    span = dict(start_lr=float(resolved(task, "startLr", "lrFind")),
                end_lr=float(resolved(task, "endLr", "lrFind")),
                num_it=int(resolved(task, "numIterations", "lrFind")))
    return "cancelled" if run_lr_find(job, learn, **span) is None else "succeeded"


# --- script -----------------------------------------------------------------------------------

class ScriptExit(Exception):
    """The user's script called sys.exit with a failing status."""


def script_task(job: Job, task: dict) -> str:
    if job.workspace_dir:
        workspace = Path(job.workspace_dir)
    else:
        workspace = datamod.resolve_data(task.get("workspace"), None, "script workspace")
    entry_name = task.get("entrypoint") or ""
    if not entry_name:
        raise DataError("script: no entrypoint given (e.g. 'train.py')")
    entry = workspace / entry_name
    if not entry.is_file():
        found = sorted(p.relative_to(workspace).as_posix() for p in workspace.rglob("*.py"))[:10]
        raise DataError(f"script: {entry_name} not found in the workspace"
                        + (f" (Python files there: {', '.join(found)})" if found else ""))
    for key, value in (task.get("env") or {}).items():
        os.environ[str(key)] = str(value)
    if task.get("data") or job.data_dir:
        os.environ["GPULINK_DATA"] = str(datamod.resolve_data(task.get("data"), job.data_dir,
                                                              "script data"))
    job.artifacts_dir.mkdir(parents=True, exist_ok=True)
    os.environ["GPULINK_ARTIFACTS"] = str(job.artifacts_dir.resolve())
    os.chdir(workspace)
    sys.argv = [entry_name, *[str(a) for a in task.get("args") or []]]
    # `python train.py` puts the script's folder first on sys.path; run_path does not.
    sys.path.insert(0, str(entry.parent.resolve()))
    try:
        runpy.run_path(str(entry.resolve()), run_name="__main__")
    except SystemExit as e:
        if e.code not in (None, 0):
            raise ScriptExit(f"the script exited with status {e.code}") from e
    job.announce_new_files()
    return "cancelled" if job.cancelled else "succeeded"
