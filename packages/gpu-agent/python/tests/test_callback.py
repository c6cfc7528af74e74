"""The event callback inside a real fastai loop, in-process (tiny synthetic regression data)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import fastai.callback.schedule  # noqa: F401  (patches Learner.lr_find, fit_one_cycle)
import pytest
from fastai.callback.core import Callback
from fastai.callback.progress import ProgressCallback
from fastai.callback.tracker import EarlyStoppingCallback
from fastai.learner import load_learner
from fastai.metrics import mae
from fastai.test_utils import synth_learner
from fastcore.basics import defaults

from conftest import check_event, check_fit_sequence
from gpulink_worker import job as jobmod
from gpulink_worker.callback import GpulinkCallback, install
from gpulink_worker.events import EventWriter, proto_double


class Capture:
    def __init__(self, tmp_path: Path, **kwargs):
        self.buffer = io.StringIO()
        self.job = jobmod.Job(writer=EventWriter(self.buffer), envelope={"spec": {}},
                              artifacts_dir=tmp_path / "artifacts", device="cpu",
                              batch_events_per_second=1000, **kwargs)

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines()]

    def of(self, kind):
        return [e[kind] for e in self.events if kind in e]


@pytest.fixture
def cap(tmp_path):
    install()
    c = Capture(tmp_path)
    jobmod.set_current(c.job)
    yield c
    jobmod.set_current(None)


class _Run:  # what check_fit_sequence reads
    def __init__(self, events):
        self.events = events


def test_install_replaces_the_progress_bar():
    install()
    assert GpulinkCallback in defaults.callbacks
    assert ProgressCallback not in defaults.callbacks
    learn = synth_learner(cbs=ProgressCallback())
    assert not learn._grab_cbs(ProgressCallback), "an explicit ProgressCallback would print bars"
    assert len(learn._grab_cbs(GpulinkCallback)) == 1


def test_fit_streams_and_inference_is_silent(cap, capsys):
    learn = synth_learner(n_trn=5, metrics=mae)
    learn.fit(3, lr=1e-2)
    fit_events = len(cap.events)
    learn.validate()
    learn.get_preds()
    assert len(cap.events) == fit_events, "validate/get_preds must not look like fits"
    learn.lr_find(show_plot=False, num_it=10)
    found = cap.events[fit_events:]
    assert {k for e in found for k in e} == {"lrFindProgress"}, "lr_find reports progress, not a fit"
    progress = [e["lrFindProgress"] for e in found]
    # Every iteration (the capture allows 1000 events/s) but the last, which LRFinder (order 60)
    # ends before this callback sees it; learning rates grow.
    assert [p["iter"] for p in progress] == list(range(1, 10))
    assert {p["nIter"] for p in progress} == {10}
    lrs = [p["lr"] for p in progress]
    assert lrs == sorted(lrs) and lrs[0] < lrs[-1]
    for e in cap.events:
        check_event(e)
    check_fit_sequence(_Run(cap.events[:fit_events]))
    (started,) = cap.of("fitStarted")
    assert started == {"nEpoch": 3, "startEpoch": 0, "trainBatches": 5, "validBatches": 2,
                       "metricNames": ["mae"], "fitIndex": 0, "trainItems": 80, "validItems": 32}
    epochs = cap.of("epochEnded")
    assert [e["epoch"] for e in epochs] == [0, 1, 2]
    assert [e["completedEpochs"] for e in epochs] == [1, 2, 3]
    assert all(math.isfinite(e["trainLoss"]) and math.isfinite(e["validLoss"]) for e in epochs)
    assert "cudaMemory" not in epochs[0]
    # With a high rate every batch is reported: 5 training + 2 validation per epoch.
    batches = cap.of("batch")
    assert len(batches) == 3 * 7
    assert [b["iter"] for b in batches[:7]] == [1, 2, 3, 4, 5, 1, 2]
    assert all("smoothLoss" in b and "lr" in b for b in batches if b["training"])
    # Recorder's epoch rows and the console bar stay off stdout; the logger comes back after.
    assert capsys.readouterr().out == ""
    assert learn.logger is print


def test_throttle_keeps_last_batch_of_each_phase(tmp_path):
    install()
    c = Capture(tmp_path)
    c.job.batch_events_per_second = 0.001
    jobmod.set_current(c.job)
    try:
        synth_learner(n_trn=20).fit(2)
    finally:
        jobmod.set_current(None)
    batches = c.of("batch")
    # The first batch of the job (interval since phase start) may pass; the last of each phase must.
    lasts = [b for b in batches if b["iter"] == b["nIter"]]
    assert [(b["epoch"], b["training"]) for b in lasts] == [(0, True), (0, False), (1, True), (1, False)]
    assert len(batches) <= 4 + 4


def test_epoch_cancelled_by_early_stopping_still_ends(cap):
    learn = synth_learner(n_trn=3)
    learn.fit(6, lr=1e-3, cbs=EarlyStoppingCallback(monitor="valid_loss", min_delta=1e9, patience=0))
    epochs = cap.of("epochEnded")
    # EarlyStopping (order 60) raises in after_epoch before this callback runs; the epoch it
    # stopped after is still reported.
    assert [e["epoch"] for e in epochs] == [0, 1]
    assert cap.job.completed_epochs == 2


class _CancelAt(Callback):
    order = 70

    def __init__(self, job, at):
        self.job_, self.at = job, at

    def after_batch(self):
        if self.training and self.learn.iter + 1 == self.at:
            self.job_.request_cancel("test")


def test_cancel_is_sticky_across_fits(cap):
    learn = synth_learner(n_trn=10)
    learn.fit(3, cbs=_CancelAt(cap.job, 2))  # flag set after batch 2: batch 3 is the last one
    learn.fit_one_cycle(2)  # fine_tune's second fit: must not run
    training = [b for b in cap.of("batch") if b["training"]]
    assert max(b["iter"] for b in training) == 3
    assert cap.of("epochEnded") == []
    assert len(cap.of("fitStarted")) == 1


def test_export_does_not_need_gpulink(cap, tmp_path):
    import numpy as np
    import pandas as pd
    from fastai.tabular.all import Categorify, Normalize, TabularDataLoaders, tabular_learner
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=64), "color": rng.choice(["red", "blue"], 64)})
    df["y"] = np.where(df["x"] > 0, "pos", "neg")
    dls = TabularDataLoaders.from_df(df, y_names="y", cat_names=["color"], cont_names=["x"], bs=16,
                                     procs=[Categorify, Normalize],
                                     num_workers=0, device="cpu")
    learn = tabular_learner(dls, layers=[8])
    learn.fit(1)
    cap.job.artifacts_dir.mkdir(parents=True)
    target = cap.job.artifacts_dir / "model.pkl"
    learn.export(target)
    data = target.read_bytes()
    assert b"gpulink_worker" not in data
    assert learn._grab_cbs(GpulinkCallback), "the callback comes back after export"
    cap.job.announce_new_files()
    assert [(a["name"], a["kind"]) for a in cap.of("artifact")] == [("model.pkl", "model")]
    loaded = load_learner(target)
    # A loaded Learner was never __init__'ed: it is adopted when unpickled.
    assert loaded._grab_cbs(GpulinkCallback) and not loaded._grab_cbs(ProgressCallback)
    loaded.fit(1)
    assert [s["fitIndex"] for s in cap.of("fitStarted")] == [0, 1]


def test_doubles_follow_proto3_json():
    assert proto_double(float("nan")) == "NaN"
    assert proto_double(float("inf")) == "Infinity"
    assert proto_double(float("-inf")) == "-Infinity"
    assert proto_double(1) == 1.0


def test_files_a_job_leaves_in_artifacts_are_announced(cap, tmp_path):
    artifacts = cap.job.artifacts_dir
    (artifacts / "plots").mkdir(parents=True)
    (artifacts / "plots" / "loss.png").write_bytes(b"png")
    (artifacts / ".hidden").write_text("skip me")
    learn = synth_learner(n_trn=2)
    learn.path = artifacts
    learn.fit(1)
    learn.save("weights")  # models/weights.pth under learn.path
    cap.job.announce_artifact(artifacts / "plots" / "loss.png", "file")
    (artifacts / "notes.txt").write_text("hello")
    cap.job.announce_new_files()
    named = {a["name"]: a["kind"] for a in cap.of("artifact")}
    assert named == {"plots/loss.png": "file", "models/weights.pth": "file", "notes.txt": "file"}
    assert len(cap.of("artifact")) == 3, "an announced file is not announced again"
