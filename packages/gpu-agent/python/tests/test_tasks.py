"""Built-in task options in-process (cheap): architectures by name, CSV labels with a validation
column, metrics that need a class count."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
import torchvision

from conftest import WorkerRun, check_event, check_fit_sequence, tabular_task, vision_task
from gpulink_worker import job as jobmod
from gpulink_worker import tasks
from gpulink_worker.callback import install
from gpulink_worker.data import _bool_column
from gpulink_worker.events import EventWriter
from gpulink_worker.job import DataError


def test_architectures_by_name():
    from fastai.vision.models import xresnet
    assert tasks.resolve_arch("resnet18") is torchvision.models.resnet18
    assert tasks.resolve_arch("convnext_tiny") is torchvision.models.convnext_tiny
    assert tasks.resolve_arch("xresnet18") is xresnet.xresnet18
    pytest.importorskip("timm")
    # Not a torchvision name: handed to fastai as a timm model name (a pretrained tag is fine).
    assert tasks.resolve_arch("convnext_tiny.fb_in1k") == "convnext_tiny.fb_in1k"
    assert tasks.resolve_arch("test_resnet") == "test_resnet"


def _run(tmp_path, spec: dict, data_dir: Path, **envelope) -> list[dict]:
    """Runs a task in this process, as the worker would, and returns its events."""
    install()
    buf = io.StringIO()
    job = jobmod.Job(writer=EventWriter(buf),
                     envelope={"spec": spec, "dataDir": str(data_dir), **envelope},
                     artifacts_dir=tmp_path / "artifacts", device="cpu", batch_events_per_second=10)
    jobmod.set_current(job)
    try:
        assert tasks.run_task(job) == "succeeded"
    finally:
        jobmod.set_current(None)
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    for e in events:
        check_event(e)
    check_fit_sequence(WorkerRun(events, 0, "", "", 0.0))
    return events


def test_timm_model_with_csv_labels_and_a_valid_column(tmp_path, digits_flat):
    pytest.importorskip("timm")
    spec = {"vision": vision_task(
        labels={"csv": {"csvPath": "labels.csv", "imageDir": "imgs", "validColumn": "is_valid"}},
        arch="test_resnet", metrics=["accuracy", "f1_score", "top_k_accuracy"])}
    events = _run(tmp_path, spec, digits_flat)
    (started,) = [e["fitStarted"] for e in events if "fitStarted" in e]
    # labels.csv marks every 5th row for validation: 40 of 200.
    assert (started["trainItems"], started["validItems"]) == (160, 40)
    assert started["metricNames"] == ["accuracy", "f1_score", "top_k_accuracy"]
    assert (tmp_path / "artifacts" / "export.pkl").is_file()


def test_tabular_regression_and_predicting_values(tmp_path, cancer_dir):
    spec = {"tabular": tabular_task(csvPath="cancer.csv", target="mean area", regression=True,
                                    epochs=3, lr={"fixed": 0.01}, metrics=["mae"])}
    events = _run(tmp_path / "train", spec, cancer_dir)
    (started,) = [e["fitStarted"] for e in events if "fitStarted" in e]
    assert started["metricNames"] == ["mae"]
    assert not [e for e in events if "interpretation" in e], "no confusion matrix for a regressor"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    df = pd.read_csv(cancer_dir / "cancer.csv").head(4)
    df.drop(columns=["mean area"]).to_csv(inputs / "rows.csv", index=False)
    (inputs / "notes.txt").write_text("not an input")
    events = _run(tmp_path / "predict", {"predict": {"topK": 3}}, inputs,
                  modelPath=str(tmp_path / "train" / "artifacts" / "export.pkl"))
    (preds,) = [e["predictions"] for e in events if "predictions" in e]
    assert [i["input"] for i in preds["items"]] == [f"rows.csv#{n}" for n in range(4)]
    for item in preds["items"]:
        assert float(item["label"]) > 0 and item["probability"] == 0 and item["top"] == []


def test_validation_column_values():
    assert _bool_column(pd.Series(["True", "false", "yes", "", "valid"]), "v").tolist() == [
        True, False, True, False, True]
    assert _bool_column(pd.Series([1, 0, 2]), "v").tolist() == [True, False, True]
    with pytest.raises(DataError, match="true/false"):
        _bool_column(pd.Series(["train", "maybe"]), "validColumn 'v'")


def test_every_metric_the_agent_accepts_resolves():
    # The agent refuses names outside this list before a job starts; each must work in the worker.
    known = json.loads((Path(tasks.__file__).parent / "known_metrics.json").read_text())["metrics"]
    assert "accuracy" in known
    for n_classes in (2, 10):
        assert len(tasks.resolve_metrics(known, n_classes)) == len(known)
