"""How failures are classified and worded: the tasks in-process, the error event as the worker
writes it (the subprocess path is covered by test_worker_script's exception test)."""

from __future__ import annotations

import io
import json

import pytest
import torch

from conftest import check_event, tabular_task, vision_task
from gpulink_worker import tasks
from gpulink_worker.events import EventWriter
from gpulink_worker.job import DataError, Job, ProtocolError
from gpulink_worker.main import _report, make_job


def _job(tmp_path, spec: dict, **envelope) -> Job:
    return Job(writer=EventWriter(io.StringIO()), envelope={"spec": spec, **envelope},
               artifacts_dir=tmp_path / "artifacts", device="cpu", batch_events_per_second=10)


def _error_event(exc: BaseException) -> dict:
    buf = io.StringIO()
    _report(EventWriter(buf), exc)
    (line,) = buf.getvalue().splitlines()
    event = json.loads(line)
    assert check_event(event) == "error"
    return event["error"]


def _fails(job: Job, exc_type=DataError) -> BaseException:
    with pytest.raises(exc_type) as info:
        tasks.run_task(job)
    return info.value


def test_missing_target_column(tmp_path, cancer_dir):
    spec = {"tabular": tabular_task(csvPath="cancer.csv", target="outcome")}
    err = _error_event(_fails(_job(tmp_path, spec, dataDir=str(cancer_dir))))
    assert err["kind"] == "ERROR_KIND_DATA" and err["exceptionType"] == "DataError"
    assert "'outcome'" in err["message"] and "diagnosis" in err["message"]
    assert "Traceback" in err["traceback"] and err["peakCudaMemoryBytes"] == 0


def test_missing_csv_lists_the_ones_there(tmp_path, cancer_dir):
    spec = {"tabular": tabular_task(csvPath="train.csv", target="diagnosis")}
    exc = _fails(_job(tmp_path, spec, dataDir=str(cancer_dir)))
    assert "train.csv not found" in str(exc) and "cancer.csv" in str(exc)


def test_unknown_tabular_column(tmp_path, cancer_dir):
    spec = {"tabular": tabular_task(csvPath="cancer.csv", target="diagnosis",
                                    categoricalColumns=["colour"])}
    assert "colour" in str(_fails(_job(tmp_path, spec, dataDir=str(cancer_dir))))


def test_folder_without_images(tmp_path):
    (tmp_path / "data" / "cats").mkdir(parents=True)
    (tmp_path / "data" / "cats" / "notes.txt").write_text("no images here")
    spec = {"vision": vision_task()}
    exc = _fails(_job(tmp_path, spec, dataDir=str(tmp_path / "data")))
    assert "no images" in str(exc)


def test_file_names_that_do_not_match_the_pattern(tmp_path, digits_flat):
    spec = {"vision": vision_task(labels={"fileNameRegex": {"pattern": r"^digit_(\d)\.png$"}})}
    exc = _fails(_job(tmp_path, spec, dataDir=str(digits_flat / "imgs")))
    assert "200 of 200 file names do not match" in str(exc)


def test_csv_labels_pointing_at_missing_files(tmp_path, digits_flat):
    spec = {"vision": vision_task(labels={"csv": {"csvPath": "labels.csv"}})}
    exc = _fails(_job(tmp_path, spec, dataDir=str(digits_flat)))  # imageDir "imgs" not given
    assert "200 of 200 files listed in labels.csv are missing" in str(exc)


def test_unknown_architecture_and_metric(tmp_path, digits_flat):
    base = vision_task(labels={"csv": {"csvPath": "labels.csv", "imageDir": "imgs"}})
    exc = _fails(_job(tmp_path, {"vision": dict(base, arch="resnet19")},
                      dataDir=str(digits_flat)), ValueError)
    assert "unknown architecture 'resnet19'" in str(exc)
    exc = _fails(_job(tmp_path, {"vision": dict(base, arch="resnet18", metrics=["acuracy"])},
                      dataDir=str(digits_flat)), ValueError)
    assert "unknown metric 'acuracy'" in str(exc) and "accuracy" in str(exc)


def test_pretrained_weights_that_cannot_be_downloaded(tmp_path, digits_flat, monkeypatch, capsys):
    # An empty torch cache on a machine without network (this one): the download itself fails.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    spec = {"vision": vision_task(labels={"csv": {"csvPath": "labels.csv", "imageDir": "imgs"}}, epochs=1,
                                  arch="resnet18", pretrained=True, imageSize=16)}
    exc = _fails(_job(tmp_path, spec, dataDir=str(digits_flat)), Exception)
    capsys.readouterr()
    err = _error_event(exc)
    assert err["message"].startswith("the pretrained weights resnet18-") and "could not be downloaded" in err["message"]
    assert "--no-pretrained" in err["message"] and "\n" not in err["message"]
    # The whole story stays in the traceback, which the job's log (stderr) gets too.
    assert "URLError" in err["traceback"] and "load_state_dict_from_url" in err["traceback"]
    assert "load_state_dict_from_url" in capsys.readouterr().err


def test_metric_names_in_snake_case():
    from fastai.learner import mk_metric
    metrics = tasks.resolve_metrics(["accuracy", "error_rate", "f1_score", "roc_auc", "rmse"], 10)
    # The names the Recorder (and so metricNames) will use; '_rmse' is fastai's own spelling.
    assert [mk_metric(m).name for m in metrics] == [
        "accuracy", "error_rate", "f1_score", "roc_auc_score", "_rmse"]
    assert metrics[2].kwargs["average"] == "macro", "sklearn's 'binary' fails on 10 classes"


def test_script_entrypoint_not_found(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text("print('hi')\n")
    spec = {"script": {"entrypoint": "tran.py"}}
    err = _error_event(_fails(_job(tmp_path, spec, workspaceDir=str(ws))))
    assert err["kind"] == "ERROR_KIND_DATA"
    assert "tran.py" in err["message"] and "train.py" in err["message"]


def test_cuda_out_of_memory_is_its_own_kind():
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    err = _error_event(oom)
    assert err["kind"] == "ERROR_KIND_CUDA_OUT_OF_MEMORY"
    assert err["exceptionType"] == "OutOfMemoryError"
    assert "batch size" in err["message"]
    # fastai re-raises errors from callbacks with a new message; the OOM is found in the chain.
    try:
        try:
            raise oom
        except RuntimeError as inner:
            raise RuntimeError("Exception occured in `Recorder` when calling event `after_batch`") from inner
    except RuntimeError as wrapped:
        assert _error_event(wrapped)["kind"] == "ERROR_KIND_CUDA_OUT_OF_MEMORY"


def test_a_bad_envelope_is_an_exception():
    with pytest.raises(ValueError) as info:
        make_job(EventWriter(io.StringIO()), {"spec": {"vision": {}}})
    err = _error_event(info.value)
    assert err["kind"] == "ERROR_KIND_EXCEPTION"
    assert err["message"] == "ProtocolError: the job envelope has no artifactsDir"


def test_an_envelope_field_the_proto_does_not_declare_is_refused(tmp_path):
    env = {"spec": {"vision": vision_task()}, "artifactsDir": str(tmp_path), "device": "cpu",
           "batchEventsPerSecond": 10, "arch": "resnet18"}
    with pytest.raises(ValueError, match="fields this worker does not know: arch"):
        make_job(EventWriter(io.StringIO()), env)


def test_a_default_the_agent_did_not_fill_in_is_a_protocol_error(tmp_path, digits_flat):
    # The worker holds no defaults: an unset arch is the agent's bug, never "resnet-something".
    task = vision_task(labels={"csv": {"csvPath": "labels.csv", "imageDir": "imgs"}})
    del task["arch"]
    exc = _fails(_job(tmp_path, {"vision": task}, dataDir=str(digits_flat)), ProtocolError)
    assert str(exc) == "the job spec has no vision.arch; the agent fills in every default"
    exc = _fails(_job(tmp_path, {"tabular": {k: v for k, v in tabular_task().items() if k != "epochs"}}),
                 ProtocolError)
    assert "tabular.epochs" in str(exc)
