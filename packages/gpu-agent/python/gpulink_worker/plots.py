"""fastai's own plots of a job, saved as PNG artifacts (kind "plot") for `gpulink pull` and for
terminals that show images inline."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on an agent; set before pyplot is first used here
import matplotlib.pyplot as plt  # noqa: E402

from .job import Job  # noqa: E402

LR_FIND_PLOT = "lr_find.png"
LOSS_PLOT = "loss.png"
_DPI = 100


def save_lr_find_plot(job: Job, learn, suggestions: Sequence[tuple[str, float]]) -> None:
    """Recorder.plot_lr_find, with each suggestion marked where fastai's lr_find marks it."""
    _best_effort(job, LR_FIND_PLOT, _lr_find_plot, job, learn, suggestions)


def save_loss_plot(job: Job, learn) -> None:
    """Recorder.plot_loss: training loss per step and validation loss per epoch."""
    _best_effort(job, LOSS_PLOT, _loss_plot, job, learn)


def _best_effort(job: Job, name: str, draw, *args) -> None:
    # A plot is a picture of results the job already sent as events: failing to draw one must not
    # fail a job that trained.
    try:
        draw(*args)
    except Exception as e:  # noqa: BLE001
        plt.close("all")
        job.writer.warning(code="plot_failed", message=f"could not save {name}: {e}")


def _lr_find_plot(job: Job, learn, suggestions: Sequence[tuple[str, float]]) -> None:
    rec = learn.recorder
    lrs = [float(x) for x in rec.lrs]
    losses = [float(x) for x in rec.losses]
    marks = [(lr, _loss_at(lrs, losses, lr)) for _, lr in suggestions]
    plt.close("all")
    # plot_lr_find draws on a new figure and does not return it (fastai 2.8), so take the current one.
    rec.plot_lr_find(suggestions=marks or None, nms=[name for name, _ in suggestions] or None)
    _save(job, plt.gcf(), LR_FIND_PLOT)


def _loss_plot(job: Job, learn) -> None:
    rec = learn.recorder
    if len(rec.losses) < 2:
        return
    plt.close("all")
    fig, ax = plt.subplots(1, 1)
    skip = min(5, len(rec.losses) // 10)
    # with_valid needs a valid_loss for every epoch; a fit without validation has none.
    rec.plot_loss(skip_start=skip, with_valid=bool(rec.values) and "valid_loss" in rec.metric_names,
                  ax=ax)
    ax.legend(loc="best")
    _save(job, fig, LOSS_PLOT)


def _loss_at(lrs: list[float], losses: list[float], lr: float) -> float:
    i = min(range(len(lrs)), key=lambda k: abs(lrs[k] - lr))
    return losses[i]


def _save(job: Job, fig, name: str) -> None:
    job.artifacts_dir.mkdir(parents=True, exist_ok=True)
    path = job.artifacts_dir / name
    try:
        fig.savefig(path, format="png", dpi=_DPI, bbox_inches="tight")
    finally:
        plt.close(fig)
    job.announce_artifact(path, "plot")
