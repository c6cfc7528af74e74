"""Vision jobs through the real worker process: train, predict, lr_find, cancel."""

from __future__ import annotations

import json

import pytest

from conftest import (LR_FIND_SPAN, check_fit_sequence, check_run, digit_label, envelope, run_worker,
                      value, vision_task, write_digits)
from gpulink_worker.job import sha256_file

# 480 training / 120 validation digits at 32 px; resnet18 from scratch reaches ~95% in 4 epochs.
VISION_SPEC = {
    "name": "digits-resnet18",
    "vision": vision_task(
        data={"agentPath": "(resolved by the agent)"}, imageSize=32, batchSize=32, epochs=4,
        lr={"fixed": 0.01}, metrics=["accuracy", "error_rate"],
    ),
}


@pytest.fixture(scope="module")
def vision_run(digits_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("vision-job")
    run = run_worker(envelope(VISION_SPEC, work / "artifacts", data_dir=digits_dir), cwd=work)
    return run, work / "artifacts"


def test_vision_job_trains_to_80_percent(vision_run):
    run, artifacts = vision_run
    check_run(run)
    check_fit_sequence(run)
    started = run.one("fitStarted")
    assert started == {"nEpoch": 4, "startEpoch": 0, "trainBatches": 15, "validBatches": 4,
                       "metricNames": ["accuracy", "error_rate"], "fitIndex": 0,
                       "trainItems": 480, "validItems": 120}
    epochs = run.of("epochEnded")
    assert [e["epoch"] for e in epochs] == [0, 1, 2, 3]
    accuracy = value(epochs[-1]["metrics"][0]["value"])
    error_rate = value(epochs[-1]["metrics"][1]["value"])
    assert accuracy >= 0.8, f"accuracy {accuracy}: {epochs}"
    assert accuracy + error_rate == pytest.approx(1.0)
    batches = run.of("batch")
    assert any(not b["training"] for b in batches)
    for e in range(4):  # the last batch of each phase is always reported
        assert {"training": True, "iter": 15} in [{"training": b["training"], "iter": b["iter"]}
                                                  for b in batches if b["epoch"] == e]
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 4}
    # Nothing of fastai's console output: no progress bar, no Recorder rows.
    assert run.stdout == ""


def test_vision_job_exports_a_plain_fastai_model(vision_run):
    run, artifacts = vision_run
    (art,) = [a for a in run.of("artifact") if a["kind"] == "model"]
    assert art["name"] == "export.pkl"
    path = artifacts / "export.pkl"
    assert art["sizeBytes"] == path.stat().st_size
    assert art["sha256"] == sha256_file(path)
    assert b"gpulink_worker" not in path.read_bytes(), "the export must load without gpulink"
    kinds = run.kinds()
    assert kinds.index("artifact") > max(i for i, k in enumerate(kinds) if k == "epochEnded")


def test_vision_job_says_what_runs_after_training_and_saves_its_loss_plot(vision_run):
    run, artifacts = vision_run
    kinds = run.kinds()
    phases = [e["phase"]["description"] for e in run.events if "phase" in e]
    assert phases == ["exporting the model", "interpreting results"]
    last_epoch = max(i for i, k in enumerate(kinds) if k == "epochEnded")
    first_phase, second_phase = [i for i, k in enumerate(kinds) if k == "phase"]
    assert last_epoch < first_phase < kinds.index("artifact") < second_phase < kinds.index("interpretation")
    (plot,) = [a for a in run.of("artifact") if a["kind"] == "plot"]
    assert plot["name"] == "loss.png"
    assert (artifacts / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vision_job_interpretation(vision_run):
    run, _ = vision_run
    interp = run.one("interpretation")
    assert interp["classes"] == [str(i) for i in range(10)]
    cm = interp["confusionMatrix"]
    assert sum(cm) == 120
    correct = sum(cm[i * 10 + i] for i in range(10))
    accuracy = value(run.of("epochEnded")[-1]["metrics"][0]["value"])
    assert correct / 120 == pytest.approx(accuracy, abs=1e-6)
    counts = [p["count"] for p in interp["mostConfused"]]
    assert counts == sorted(counts, reverse=True)
    assert all(p["actual"] != p["predicted"] for p in interp["mostConfused"])


def test_predict_with_the_exported_model(vision_run, tmp_path):
    _, artifacts = vision_run
    held_out = range(1700, 1730)  # digits the model never saw
    inputs = write_digits(tmp_path / "inputs", held_out, size=32, layout="flat")
    spec = {"predict": {"modelJobId": "job_vision", "inputs": {"datasetId": "ds_inputs"}, "topK": 3}}
    run = run_worker(envelope(spec, tmp_path / "artifacts", data_dir=inputs,
                              model_path=artifacts / "export.pkl"), cwd=tmp_path)
    check_run(run)
    items = run.one("predictions")["items"]
    expected = sorted(p.name for p in inputs.iterdir())
    assert [i["input"] for i in items] == expected
    for item in items:
        assert len(item["top"]) == 3
        values = [t["value"] for t in item["top"]]
        assert values == sorted(values, reverse=True)
        assert item["top"][0] == {"name": item["label"], "value": item["probability"]}
    right = sum(i["label"] == digit_label(int(i["input"].split("_")[1].split(".")[0])) for i in items)
    assert right >= 0.7 * len(items), items
    (art,) = run.of("artifact")
    assert art["name"] == "predictions.json" and art["kind"] == "predictions"
    saved = json.loads((tmp_path / "artifacts" / "predictions.json").read_text())
    assert saved == {"items": items}
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 0}


def test_lr_find_on_csv_labelled_images(digits_flat, tmp_path):
    spec = {"lrFind": {
        "vision": vision_task(data={"datasetId": "ds_x"},
                              labels={"csv": {"csvPath": "labels.csv", "imageDir": "imgs",
                                              "validColumn": "is_valid"}}),
        **LR_FIND_SPAN, "numIterations": 20}}
    run = run_worker(envelope(spec, tmp_path / "artifacts", data_dir=digits_flat), cwd=tmp_path)
    check_run(run)
    result = run.one("lrFindResult")
    lrs = [value(x) for x in result["lrs"]]
    assert 6 <= len(lrs) <= 20 and lrs == sorted(lrs)
    assert lrs[0] == pytest.approx(1e-7, rel=0.5)
    methods = [s["method"] for s in result["suggestions"]]
    assert "valley" in methods and set(methods) <= {"valley", "slide", "minimum", "steep"}
    # lr_find is a fit to fastai, never to the job's event stream: it reports its own progress.
    assert not {"fitStarted", "batch", "epochEnded"} & set(run.kinds())
    # fastai's own plot of the curve, with the suggestions marked, as a PNG.
    (plot,) = run.of("artifact")
    assert plot["name"] == "lr_find.png" and plot["kind"] == "plot"
    png = (tmp_path / "artifacts" / "lr_find.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and plot["sizeBytes"] == len(png)
    progress = run.of("lrFindProgress")
    assert progress and progress[0]["iter"] >= 1 and {p["nIter"] for p in progress} == {20}
    assert [p["iter"] for p in progress] == sorted(p["iter"] for p in progress)
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 0}


def test_cancel_mid_epoch_stops_within_a_batch(digits_flat, tmp_path):
    spec = {"vision": vision_task(labels={"fileNameRegex": {"pattern": r"^d(\d)_\d+\.png$"}},
                                  data={"datasetId": "ds_x"}, batchSize=8, epochs=3, fp16=True,
                                  fitMethod="FIT_METHOD_FINE_TUNE", lr={"fixed": 0.01})}
    run = run_worker(
        envelope(spec, tmp_path / "artifacts", data_dir=digits_flat / "imgs", rate=1000), cwd=tmp_path,
        cancel_when=lambda e: "batch" in e and e["batch"]["training"] and e["batch"]["iter"] == 3)
    check_run(run)
    assert run.one("warning")["code"] == "fp16_on_cpu"
    assert run.cancel_sent_after is not None
    after = [e["batch"] for e in run.events[run.cancel_sent_after:] if "batch" in e]
    assert len(after) <= 2, f"{len(after)} batches ran after the cancel: {after}"
    assert run.one("done") == {"outcome": "cancelled", "completedEpochs": 0}
    # fine_tune's second fit never starts: the cancel is sticky.
    assert len(run.of("fitStarted")) == 1
    assert not {"epochEnded", "artifact", "interpretation"} & set(run.kinds())
