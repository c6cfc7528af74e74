"""Tabular jobs through the real worker process: train with checkpoints, resume, predict."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import check_fit_sequence, check_run, envelope, run_worker, tabular_task, value

TABULAR_SPEC = {
    "name": "cancer",
    "checkpoint": {"everyEpoch": True, "keepLast": 2},
    "tabular": tabular_task(
        data={"datasetId": "ds_cancer"}, csvPath="cancer.csv", target="diagnosis",
        epochs=3, batchSize=64, lr={"fixed": 0.01}, seed=7,
    ),
}


@pytest.fixture(scope="module")
def tabular_run(cancer_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("tabular-job")
    run = run_worker(envelope(TABULAR_SPEC, work / "artifacts", data_dir=cancer_dir), cwd=work)
    return run, work / "artifacts"


def test_tabular_job_trains_and_checkpoints(tabular_run):
    run, artifacts = tabular_run
    check_run(run)
    check_fit_sequence(run)
    started = run.one("fitStarted")
    assert started["metricNames"] == ["accuracy"]
    assert started["trainItems"] + started["validItems"] == 569
    assert started["validItems"] == 113  # validPct 0.2 by default
    epochs = run.of("epochEnded")
    assert [e["completedEpochs"] for e in epochs] == [1, 2, 3]
    assert value(epochs[-1]["metrics"][0]["value"]) >= 0.9
    checkpoints = [a for a in run.of("artifact") if a["kind"] == "checkpoint"]
    assert [a["name"] for a in checkpoints] == [f"checkpoints/epoch-{i}.pth" for i in (1, 2, 3)]
    # keepLast 2: the oldest is gone from disk (its artifact event stays in the log).
    assert sorted(p.name for p in (artifacts / "checkpoints").iterdir()) == ["epoch-2.pth", "epoch-3.pth"]
    assert [a["name"] for a in run.of("artifact") if a["kind"] == "model"] == ["export.pkl"]
    interp = run.one("interpretation")
    assert interp["classes"] == ["benign", "malignant"]
    assert sum(interp["confusionMatrix"]) == 113
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 3}


def test_tabular_job_resumes_from_a_checkpoint(tabular_run, cancer_dir, tmp_path):
    _, artifacts = tabular_run
    resume = {"checkpoint": str(artifacts / "checkpoints" / "epoch-2.pth")}
    run = run_worker(envelope(TABULAR_SPEC, tmp_path / "artifacts", data_dir=cancer_dir,
                              resume=resume), cwd=tmp_path)
    check_run(run)
    check_fit_sequence(run)
    assert run.one("fitStarted")["startEpoch"] == 2
    (epoch,) = run.of("epochEnded")
    assert (epoch["epoch"], epoch["nEpoch"], epoch["completedEpochs"]) == (2, 3, 3)
    assert value(epoch["metrics"][0]["value"]) >= 0.9, "the weights came back from the checkpoint"
    assert {b["epoch"] for b in run.of("batch")} == {2}
    assert [a["name"] for a in run.of("artifact")] == ["checkpoints/epoch-3.pth", "export.pkl"]
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 3}


def test_predict_rows_with_a_tabular_export(tabular_run, cancer_dir, tmp_path):
    _, artifacts = tabular_run
    df = pd.read_csv(cancer_dir / "cancer.csv").head(10)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    df.drop(columns=["diagnosis"]).to_csv(inputs / "rows.csv", index=False)
    spec = {"predict": {"modelJobId": "job_tab", "inputs": {"datasetId": "ds_rows"}, "topK": 5}}
    run = run_worker(envelope(spec, tmp_path / "artifacts", data_dir=inputs,
                              model_path=artifacts / "export.pkl"), cwd=tmp_path)
    check_run(run)
    items = run.one("predictions")["items"]
    assert [i["input"] for i in items] == [f"rows.csv#{n}" for n in range(10)]
    assert all(len(i["top"]) == 2 for i in items), "top-k is capped at the number of classes"
    right = sum(i["label"] == want for i, want in zip(items, df["diagnosis"]))
    assert right >= 8
