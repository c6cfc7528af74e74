"""Jobs in several processes (ranks.py, each rank rank.py): two real ranks on the CPU under `accelerate launch`, gloo.

The agent's stand-in GPUs are CPU processes (no GPU exists here); the training is real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import envelope, run_worker, tabular_task, vision_task

pytest.importorskip("accelerate")

# A user's script as it would run under `accelerate launch` on its own: distrib_ctx, nothing of ours.
SCRIPT_PY = '''
import os, sys
from fastai.tabular.all import *
from fastai.distributed import *
df = pd.read_csv(sys.argv[1])
dls = TabularDataLoaders.from_df(df, y_names="diagnosis", y_block=CategoryBlock(), bs=32,
                                 cont_names=[c for c in df.columns if c not in ("diagnosis", "size_group")], valid_pct=0.2)
learn = tabular_learner(dls, layers=[16], metrics=accuracy)

class Boom(Callback):
    def after_batch(self):
        if os.environ.get("BOOM_RANK") == str(rank_distrib()) and self.iter == 2:
            raise RuntimeError(f"boom in rank {rank_distrib()}")

with learn.distrib_ctx():
    learn.fit(2, 1e-2, cbs=Boom())
'''


def _script_env(tmp_path: Path, csv: Path, **script) -> dict:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "train.py").write_text(SCRIPT_PY)
    spec = {"script": {"workspace": {"datasetId": "ds_ws"}, "entrypoint": "train.py",
                       "args": [str(csv)], **script}}
    env = envelope(spec, tmp_path / "artifacts", workspace_dir=ws)
    return {**env, "processes": 2}


def test_two_ranks_train_with_events_once(cancer_dir, tmp_path):
    spec = {"tabular": tabular_task(data={"source": {"agentPath": str(cancer_dir)}}, csvPath="cancer.csv",
                                    target="diagnosis", epochs=2, batchSize=32)}
    env = {**envelope(spec, tmp_path / "artifacts", data_dir=cancer_dir), "processes": 2}
    run = run_worker(env, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 2}
    assert len(run.of("fitStarted")) == 1, run.kinds()
    epochs = run.of("epochEnded")
    assert [e["epoch"] for e in epochs] == [0, 1], run.kinds()
    assert 0 <= epochs[-1]["metrics"][0]["value"] <= 1
    assert (tmp_path / "artifacts" / "export.pkl").is_file()


def test_a_users_distrib_ctx_script_trains_in_two_ranks_with_events_once(cancer_dir, tmp_path):
    env = _script_env(tmp_path, cancer_dir / "cancer.csv")
    run = run_worker(env, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 2}
    # The script is unmodified: the callback that reports its fit was installed in each rank, and only
    # rank 0's reports reach the agent.
    assert len(run.of("fitStarted")) == 1, run.kinds()
    assert [e["epoch"] for e in run.of("epochEnded")] == [0, 1], run.kinds()


def test_a_failing_rank_fails_the_job_with_its_traceback(cancer_dir, tmp_path):
    env = _script_env(tmp_path, cancer_dir / "cancer.csv", env={"BOOM_RANK": "1"})
    run = run_worker(env, cwd=tmp_path)
    assert run.returncode == 1, run.describe()
    error = run.one("error")
    assert error["message"].startswith("rank 1 of 2: RuntimeError:"), error["message"]
    assert error["message"].endswith("boom in rank 1"), error["message"]
    assert "boom in rank 1" in error["traceback"] and "after_batch" in error["traceback"]
    assert "done" not in run.kinds()


def test_two_ranks_train_a_vision_model_and_interpret_it(digits_dir, tmp_path):
    spec = {"vision": vision_task(data={"source": {"agentPath": str(digits_dir)}}, epochs=1)}
    env = {**envelope(spec, tmp_path / "artifacts", data_dir=digits_dir), "processes": 2}
    run = run_worker(env, cwd=tmp_path)
    assert run.returncode == 0, run.describe()
    assert run.one("done") == {"outcome": "succeeded", "completedEpochs": 1}
    # Gathered from both ranks, each of which saw half of the validation set: every item once.
    matrix = run.one("interpretation")["confusionMatrix"]
    assert sum(matrix) == run.one("fitStarted")["validItems"], run.describe()
