"""Built-in task options in-process (cheap): architectures by name, CSV labels with a validation
column, metrics that need a class count."""

from __future__ import annotations

import io
import json

import pytest
import torchvision

from conftest import check_event, check_fit_sequence
from gpulink_worker import job as jobmod
from gpulink_worker import tasks
from gpulink_worker.callback import install
from gpulink_worker.events import EventWriter


def test_architectures_by_name():
    from fastai.vision.models import xresnet
    assert tasks.resolve_arch("resnet18") is torchvision.models.resnet18
    assert tasks.resolve_arch("convnext_tiny") is torchvision.models.convnext_tiny
    assert tasks.resolve_arch("xresnet18") is xresnet.xresnet18
    pytest.importorskip("timm")
    # Not a torchvision name: handed to fastai as a timm model name (a pretrained tag is fine).
    assert tasks.resolve_arch("convnext_tiny.fb_in1k") == "convnext_tiny.fb_in1k"
    assert tasks.resolve_arch("test_resnet") == "test_resnet"


def test_timm_model_with_csv_labels_and_a_valid_column(tmp_path, digits_flat):
    pytest.importorskip("timm")
    install()
    buf = io.StringIO()
    spec = {"vision": {
        "labels": {"csv": {"csvPath": "labels.csv", "imageDir": "imgs", "validColumn": "is_valid"}},
        "arch": "test_resnet", "pretrained": False, "imageSize": 16, "batchSize": 16, "epochs": 1,
        "metrics": ["accuracy", "f1_score", "top_k_accuracy"]}}
    job = jobmod.Job(writer=EventWriter(buf), envelope={"spec": spec, "dataDir": str(digits_flat)},
                     artifacts_dir=tmp_path / "artifacts", device="cpu")
    jobmod.set_current(job)
    try:
        assert tasks.run_task(job) == "succeeded"
    finally:
        jobmod.set_current(None)
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    for e in events:
        check_event(e)

    class Run:
        pass
    run = Run()
    run.events = events
    check_fit_sequence(run)
    (started,) = [e["fitStarted"] for e in events if "fitStarted" in e]
    # labels.csv marks every 5th row for validation: 40 of 200.
    assert (started["trainItems"], started["validItems"]) == (160, 40)
    assert started["metricNames"] == ["accuracy", "f1_score", "top_k_accuracy"]
    assert (tmp_path / "artifacts" / "export.pkl").is_file()
