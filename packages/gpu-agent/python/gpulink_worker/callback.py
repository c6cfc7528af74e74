"""The fastai callback that turns every Learner's training loop into protocol events.

`install()` appends `GpulinkCallback` to fastcore's `defaults.callbacks`, so every Learner built
afterwards carries one: the built-in tasks' learners and those a user's script builds alike.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from fastai.callback.core import (Callback, CancelEpochException, CancelFitException)
from fastai.callback.progress import ProgressCallback
from fastai.learner import Learner
from fastai.torch_core import find_bs, get_model, rank_distrib
from fastcore.basics import defaults, noop

from . import job as jobmod

# Names the Recorder puts around the metrics; EpochEnded carries the losses in their own fields.
_NOT_METRICS = ("epoch", "train_loss", "valid_loss", "time")


@dataclass
class _Fit:
    """What the callback tracks during one real fit."""

    index: int
    n_epoch: int
    start_epoch: int
    skipped: bool = False  # the whole fit is skipped on resume
    epoch_skipped: bool = False
    epoch_open: bool = False
    epoch_t0: float = 0.0
    values_at_epoch_start: int = 0
    phase_t0: float = 0.0
    last_emit: float = 0.0
    items_since_emit: int = 0
    restore_logger: bool = False


class GpulinkCallback(Callback):
    """Streams fit progress, honours the sticky cancel flag, checkpoints and resumes.

    order 61: Recorder (50) and the schedulers/trackers (60) have updated the learner when it runs.
    """

    order = 61

    def __init__(self):
        super().__init__()
        self._g_fit: _Fit | None = None
        self._g_lr_find = False
        self._g_lr_find_last_emit = 0.0
        # validate()/get_preds()/TTA nested inside or outside a fit fire before_fit..after_fit too.
        self._g_inference_depth = 0

    # --- which fits count ----------------------------------------------------------------------

    def _g_inference(self) -> bool:
        # fastai's own test for inference is `gather_preds`; validate() has none but runs under
        # `no_mbar()` (create_mbar False), which a real fit never does.
        return hasattr(self.learn, "gather_preds") or not getattr(self.learn, "create_mbar", True)

    def after_create(self):
        # A ProgressCallback passed explicitly in `cbs` would print console bars to stdout.
        self.learn.remove_cbs(self.learn._grab_cbs(ProgressCallback))

    def before_fit(self):
        job = jobmod.current()
        # Every rank of a job on several GPUs counts, skips, resumes and cancels its fits alike
        # (or they part ways at a collective); only rank 0's writer sends events (rank.py).
        if job is None:
            return
        if self._g_inference():
            self._g_inference_depth += 1
            return
        if hasattr(self.learn, "lr_finder"):
            self._g_lr_find = True
            self._g_lr_find_last_emit = 0.0
            if job.cancelled:
                raise CancelFitException()
            return
        self._g_inference_depth = 0
        index = job.fits_started
        job.fits_started += 1
        fit = _Fit(index=index, n_epoch=int(self.learn.n_epoch), start_epoch=0)
        self._g_fit = fit
        # Recorder logs each epoch through `learn.logger` (print unless ProgressCallback replaced
        # it); epochEnded carries the same figures, so stdout stays for the user's own prints.
        if self.learn.logger is print:
            self.learn.logger = noop
            fit.restore_logger = True
        if job.cancelled:
            fit.skipped = True
            raise CancelFitException()
        plan = job.resume
        if plan is not None and index <= plan.fit_index:
            if index < plan.fit_index:
                fit.skipped = True
                raise CancelFitException()
            self._g_load_checkpoint(plan.checkpoint)
            fit.start_epoch = plan.epoch + 1
            if fit.start_epoch >= fit.n_epoch:
                fit.skipped = True
                raise CancelFitException()
        job.writer.fit_started(
            n_epoch=fit.n_epoch, start_epoch=fit.start_epoch,
            train_batches=_safe_len(lambda: self.learn.dls.train),
            valid_batches=_safe_len(lambda: self.learn.dls.valid),
            metric_names=[n for n in self._g_names()[0] if n not in _NOT_METRICS],
            fit_index=index,
            train_items=_safe_len(lambda: self.learn.dls.train_ds),
            valid_items=_safe_len(lambda: self.learn.dls.valid_ds),
        )

    # --- epochs and batches --------------------------------------------------------------------

    def _g_watching(self) -> _Fit | None:
        if self._g_inference_depth > 0 or self._g_lr_find:
            return None
        fit = self._g_fit
        return fit if fit is not None and not fit.skipped else None

    def before_epoch(self):
        fit = self._g_watching()
        if fit is None:
            return
        fit.epoch_skipped = self.learn.epoch < fit.start_epoch
        if fit.epoch_skipped:
            # Same as fastai's SkipToEpoch: before_train sets pct_train from the epoch number, so
            # the one-cycle schedule continues where the checkpointed attempt stopped.
            raise CancelEpochException()
        fit.epoch_open = True
        fit.epoch_t0 = time.perf_counter()
        fit.values_at_epoch_start = len(getattr(self._g_recorder(), "values", []) or [])

    def before_train(self):
        self._g_phase_start()

    def before_validate(self):
        self._g_phase_start()

    def _g_phase_start(self):
        fit = self._g_watching()
        if fit is None:
            return
        fit.phase_t0 = fit.last_emit = time.perf_counter()
        fit.items_since_emit = 0

    def after_batch(self):
        job = jobmod.current()
        if job is None or self._g_inference_depth > 0:
            return
        fit = self._g_watching()
        if fit is not None:
            self._g_batch(job, fit)
        elif self._g_lr_find:
            self._g_lr_find_batch(job)
        if (fit is not None or self._g_lr_find) and job.cancelled:
            raise CancelFitException()

    def _g_batch(self, job, fit: _Fit):
        learn = self.learn
        try:
            fit.items_since_emit += int(find_bs(learn.xb if len(learn.xb) else learn.yb))
        except Exception:
            pass
        now = time.perf_counter()
        n_iter = int(learn.n_iter)
        last = learn.iter + 1 >= n_iter
        rate = job.batch_events_per_second if job.batch_events_per_second > 0 else 10.0
        if not last and now - fit.last_emit < 1.0 / rate:
            return
        elapsed = now - fit.last_emit
        training = bool(learn.training)
        smooth = lr = None
        if training:
            # Read only when emitting: .item() on a CUDA tensor waits for the GPU.
            if hasattr(learn, "smooth_loss") and getattr(learn, "recorder", None) is not None:
                smooth = float(learn.smooth_loss)
            if learn.opt is not None:
                lr = float(learn.opt.hypers[-1]["lr"])
        job.writer.batch(
            epoch=learn.epoch, iter=learn.iter + 1, n_iter=n_iter, training=training,
            smooth_loss=smooth, lr=lr,
            items_per_second=fit.items_since_emit / elapsed if elapsed > 0 else 0.0,
            fit_index=fit.index,
        )
        fit.last_emit = now
        fit.items_since_emit = 0

    def _g_lr_find_batch(self, job):
        # lr_find is not a fit to the job's stream (no epochs), but it can run for minutes: its
        # progress tells watchers, and the agent's stall warning, that the job is alive.
        learn = self.learn
        now = time.perf_counter()
        rate = job.batch_events_per_second if job.batch_events_per_second > 0 else 10.0
        if now - self._g_lr_find_last_emit < 1.0 / rate:
            return
        self._g_lr_find_last_emit = now
        smooth = float(learn.smooth_loss) if hasattr(learn, "smooth_loss") else None
        job.writer.lr_find_progress(
            iter=int(learn.train_iter), n_iter=int(learn.lr_finder.num_it),
            lr=float(learn.opt.hypers[-1]["lr"]), smooth_loss=smooth,
        )

    def after_epoch(self):
        fit = self._g_watching()
        if fit is None or fit.epoch_skipped or not fit.epoch_open:
            return
        self._g_end_epoch(fit)

    def after_fit(self):
        if self._g_inference_depth > 0:
            self._g_inference_depth -= 1
            return
        if self._g_lr_find:
            self._g_lr_find = False
            return
        fit = self._g_fit
        if fit is None:
            return
        self._g_fit = None
        if fit.restore_logger and self.learn.logger is noop:
            self.learn.logger = print
        # A callback that ran before this one in after_epoch (EarlyStoppingCallback, order 60)
        # may have cancelled the fit after the Recorder stored the epoch: it still ended.
        if (not fit.skipped and fit.epoch_open and not fit.epoch_skipped
                and len(getattr(self._g_recorder(), "values", []) or []) > fit.values_at_epoch_start):
            self._g_end_epoch(fit)

    def _g_end_epoch(self, fit: _Fit):
        fit.epoch_open = False
        job = jobmod.current()
        if job is None:
            return
        train_loss, valid_loss, metrics = self._g_epoch_figures()
        job.completed_epochs += 1
        job.writer.epoch_ended(
            epoch=self.learn.epoch, n_epoch=fit.n_epoch, train_loss=train_loss,
            valid_loss=valid_loss, metrics=metrics,
            duration_ms=round((time.perf_counter() - fit.epoch_t0) * 1000),
            cuda_memory=_cuda_memory() if job.on_cuda else None,
            fit_index=fit.index, completed_epochs=job.completed_epochs,
        )
        if job.checkpoint_every_epoch:
            self._g_save_checkpoint(job, fit)

    # --- reading the Recorder ------------------------------------------------------------------

    def _g_recorder(self):
        return getattr(self.learn, "recorder", None)

    def _g_names(self) -> tuple[list[str], int]:
        """The Recorder's column names without 'epoch'/'time', and how many belong to training."""
        rec = self._g_recorder()
        if rec is None or not hasattr(rec, "metric_names"):
            return [], 0
        names = [str(n) for n in rec.metric_names][1:]
        if getattr(rec, "add_time", False) and names and names[-1] == "time":
            names = names[:-1]
        n_train = 1 + (len(self.learn.metrics) if getattr(rec, "train_metrics", False) else 0)
        return names, min(n_train, len(names))

    def _g_epoch_figures(self):
        rec = self._g_recorder()
        names, n_train = self._g_names()
        if rec is None or not getattr(rec, "values", None):
            return None, None, []
        values = list(rec.values[-1])
        present = ([] if getattr(rec, "cancel_train", False) else names[:n_train])
        if getattr(rec, "valid_metrics", True) and not getattr(rec, "cancel_valid", False):
            present += names[n_train:]
        got = {n: _number(v) for n, v in zip(present, values)}
        metrics = [(n, got.get(n)) for n in names if n not in _NOT_METRICS]
        return (got.get("train_loss"), got.get("valid_loss"),
                [(n, math.nan if v is None else v) for n, v in metrics])

    # --- checkpoints ---------------------------------------------------------------------------

    def _g_save_checkpoint(self, job, fit: _Fit):
        if rank_distrib():
            return  # rank 0 writes it: every rank holds the same weights
        folder = job.artifacts_dir / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"epoch-{job.completed_epochs}.pth"
        tmp = folder / f".{path.name}.tmp"
        state = {
            "model": get_model(self.learn.model).state_dict(),
            "opt": self.learn.opt.state_dict() if self.learn.opt is not None else None,
            "gpulink": {"fitIndex": fit.index, "epoch": int(self.learn.epoch),
                        "nEpoch": fit.n_epoch, "completedEpochs": job.completed_epochs},
        }
        torch.save(state, tmp)
        # A kill during the save leaves the previous checkpoint intact.
        os.replace(tmp, path)
        job.announce_artifact(path, "checkpoint")
        keep = max(1, job.checkpoint_keep_last)
        for old in checkpoint_files(folder)[:-keep]:
            old.unlink(missing_ok=True)

    def _g_load_checkpoint(self, path: Path):
        device = next(get_model(self.learn.model).parameters()).device
        state = torch.load(path, map_location=device, weights_only=False)
        get_model(self.learn.model).load_state_dict(state["model"])
        if state.get("opt") is not None and self.learn.opt is not None:
            self.learn.opt.load_state_dict(state["opt"])


def checkpoint_files(folder: Path) -> list[Path]:
    """Checkpoints in a folder, oldest first (by the completed-epoch number in their name)."""
    found = []
    for p in folder.glob("epoch-*.pth"):
        m = re.fullmatch(r"epoch-(\d+)\.pth", p.name)
        if m:
            found.append((int(m.group(1)), p))
    return [p for _, p in sorted(found)]


def read_checkpoint_meta(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    meta = state.get("gpulink") if isinstance(state, dict) else None
    if not meta:
        raise ValueError(f"{path} is not a gpulink checkpoint (no 'gpulink' entry)")
    return meta


def _number(v):
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _safe_len(get) -> int:
    try:
        return len(get())
    except Exception:
        return 0


def _cuda_memory() -> dict | None:
    if not torch.cuda.is_available():
        return None
    return {"allocated": torch.cuda.memory_allocated(), "reserved": torch.cuda.memory_reserved(),
            "peak": torch.cuda.max_memory_allocated()}


# --- installation into fastai -------------------------------------------------------------------

_installed = False


def install() -> None:
    """Makes every Learner stream events, and keeps exported models free of gpulink."""
    global _installed
    cbs = [c for c in getattr(defaults, "callbacks", []) if c is not ProgressCallback]
    if GpulinkCallback not in cbs:
        cbs.append(GpulinkCallback)
    defaults.callbacks = cbs
    if _installed:
        return
    _installed = True

    original_export = Learner.export
    original_setstate = Learner.__setstate__

    def export(self, fname="export.pkl", *args, **kwargs):
        # The export is a pickle of the whole Learner: without this it would name
        # gpulink_worker's callback and fail to load where gpulink is not installed. The progress
        # bar we removed goes back in so the export matches one made in a notebook.
        ours = list(self._grab_cbs(GpulinkCallback))
        self.remove_cbs(ours)
        add_progress = not self._grab_cbs(ProgressCallback)
        if add_progress:
            self.add_cb(ProgressCallback())
        try:
            original_export(self, fname, *args, **kwargs)
        finally:
            if add_progress:
                self.remove_cbs(self._grab_cbs(ProgressCallback))
            self.add_cbs(ours)
        job = jobmod.current()
        if job is not None:
            job.exported.add(str((Path(self.path) / fname).resolve()))

    def setstate(self, state):
        # load_learner unpickles without __init__, so defaults.callbacks never applies: adopt the
        # loaded Learner here so a script that trains an exported model streams too.
        original_setstate(self, state)
        try:
            self.remove_cbs(self._grab_cbs(ProgressCallback))
            if not self._grab_cbs(GpulinkCallback):
                self.add_cb(GpulinkCallback())
        except Exception as e:  # an odd pickle must still load
            print(f"gpulink worker: could not attach the event callback to a loaded Learner: {e}",
                  file=sys.stderr)

    export.__doc__ = original_export.__doc__
    Learner.export = export
    Learner.__setstate__ = setstate
