"""Script jobs: a user's unmodified fastai script streams through the installed callback."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conftest import check_fit_sequence, check_run, envelope, failing_tabular_script, run_worker

# Plain fastai, as a user would write it: nothing here knows about gpulink.
TRAIN_PY = '''\
import os
import sys
from pathlib import Path

from fastai.tabular.all import *

from helpers import load_table  # a module next to the script

csv = Path(sys.argv[1])
epochs = int(os.environ.get("EPOCHS", "1"))
print("args", sys.argv[1:], "epochs", epochs)
df = load_table(csv)
dls = TabularDataLoaders.from_df(df, path=".", y_names="diagnosis", cat_names=["size_group"],
                                 cont_names=[c for c in df.columns if c.startswith("mean")],
                                 procs=[Categorify, FillMissing, Normalize], bs=64,
                                 valid_idx=list(range(0, len(df), 5)), num_workers=0)
learn = tabular_learner(dls, layers=[32], metrics=[accuracy, error_rate])
learn.fit_one_cycle(epochs, 1e-2)
loss, acc, err = learn.validate()
print(f"validate accuracy={acc:.3f}")
preds, targs = learn.get_preds()
print("preds", tuple(preds.shape))
suggestion = learn.lr_find()
print("lr_find ran", suggestion is not None)
learn.fine_tune(2, 1e-3)
learn.export("model.pkl")
print("done")
'''

HELPERS_PY = '''\
import pandas as pd

def load_table(path):
    return pd.read_csv(path)
'''

BOOM_PY = failing_tabular_script(3, 'boom at batch 3')


def _workspace(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(textwrap.dedent(text))
    return root


def _script_spec(entry: str, csv: Path, **extra) -> dict:
    return {"script": {"workspace": {"datasetId": "ds_ws"}, "entrypoint": entry,
                       "args": [str(csv)], "env": {"EPOCHS": "1"}}, **extra}


@pytest.fixture(scope="module")
def script_run(cancer_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("script-job")
    ws = _workspace(work / "ws", {"train.py": TRAIN_PY, "helpers.py": HELPERS_PY})
    spec = _script_spec("train.py", cancer_dir / "cancer.csv",
                        checkpoint={"everyEpoch": True, "keepLast": 5})
    run = run_worker(envelope(spec, work / "artifacts", workspace_dir=ws), cwd=work)
    return run, work


def test_script_streams_every_fit(script_run):
    run, work = script_run
    check_run(run)
    check_fit_sequence(run)
    fits = run.of("fitStarted")
    # fit_one_cycle, then fine_tune's two fits; validate/get_preds/lr_find are not fits.
    assert [(f["fitIndex"], f["nEpoch"]) for f in fits] == [(0, 1), (1, 1), (2, 2)]
    assert all(f["metricNames"] == ["accuracy", "error_rate"] for f in fits)
    assert [e["completedEpochs"] for e in run.of("epochEnded")] == [1, 2, 3, 4]
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 4}


def test_script_output_is_the_users_own(script_run):
    run, work = script_run
    lines = run.stdout.splitlines()
    assert lines[0].startswith("args ['/") and lines[0].endswith("cancer.csv'] epochs 1"), \
        "argv and the spec's env vars reach the script"
    assert any(line.startswith("validate accuracy=") for line in lines)
    assert "preds (114, 2)" in lines
    assert "lr_find ran True" in lines
    assert lines[-1] == "done"
    # No Recorder rows ("[0, 0.69, ...]") and no progress-bar text among them.
    assert not [line for line in lines if line.startswith("[") or "epoch" in line.split()[:1]]
    assert (work / "ws" / "model.pkl").is_file(), "the script ran in its workspace"
    assert b"gpulink_worker" not in (work / "ws" / "model.pkl").read_bytes()


def test_script_checkpoints_and_resumes_mid_fit(script_run, cancer_dir, tmp_path):
    run, work = script_run
    names = [a["name"] for a in run.of("artifact") if a["kind"] == "checkpoint"]
    assert names == [f"checkpoints/epoch-{i}.pth" for i in (1, 2, 3, 4)]
    # Resume after the 3rd epoch: fine_tune's unfrozen fit (fitIndex 2), its epoch 0.
    ws = _workspace(tmp_path / "ws", {"train.py": TRAIN_PY, "helpers.py": HELPERS_PY})
    resume = {"checkpoint": str(work / "artifacts/checkpoints/epoch-3.pth")}
    spec = _script_spec("train.py", cancer_dir / "cancer.csv", checkpoint={"everyEpoch": True, "keepLast": 1})
    again = run_worker(envelope(spec, tmp_path / "artifacts", workspace_dir=ws, resume=resume),
                       cwd=tmp_path)
    check_run(again)
    check_fit_sequence(again)
    (fit,) = again.of("fitStarted")
    assert (fit["fitIndex"], fit["startEpoch"], fit["nEpoch"]) == (2, 1, 2)
    (epoch,) = again.of("epochEnded")
    assert (epoch["fitIndex"], epoch["epoch"], epoch["completedEpochs"]) == (2, 1, 4)
    assert again.one("done") == {"outcome": "succeeded", "completedEpochs": 4}


def test_exception_mid_training_fails_the_job(cancer_dir, tmp_path):
    ws = _workspace(tmp_path / "ws", {"boom.py": BOOM_PY})
    run = run_worker(envelope(_script_spec("boom.py", cancer_dir / "cancer.csv"),
                              tmp_path / "artifacts", workspace_dir=ws, rate=1000), cwd=tmp_path)
    check_run(run, ok=False)
    error = run.one("error")
    assert error["kind"] == "ERROR_KIND_EXCEPTION"
    assert error["exceptionType"] == "RuntimeError"
    assert error["message"] == "RuntimeError: boom at batch 3"
    assert "boom.py" in error["traceback"] and "flaky_loss" in error["traceback"]
    assert error["traceback"].rstrip().endswith("RuntimeError: boom at batch 3")
    assert [b["iter"] for b in run.of("batch")] == [1, 2], "two batches ran before the third failed"
    assert run.of("epochEnded") == []
