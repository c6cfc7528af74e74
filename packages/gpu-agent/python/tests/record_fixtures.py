"""Records real worker output (fd 3, byte for byte) into tests/fixtures/, so the TypeScript side
can check its contract validation against what the worker really writes.

    packages/gpu-agent/python/.venv/bin/python packages/gpu-agent/python/tests/record_fixtures.py

Each fixture is `<name>.ndjson` (the fd-3 lines) with `<name>.envelope.json` (the stdin envelope
that produced it). Data is made on the spot (scikit-learn's digits and breast-cancer sets).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import (LR_FIND_SPAN, check_event, check_run, envelope, failing_tabular_script,  # noqa: E402
                      run_worker, tabular_task, vision_task, write_breast_cancer, write_digits)

FIXTURES = HERE / "fixtures"

# A plain fastai script: three fits (fit_one_cycle, then fine_tune's frozen and unfrozen ones).
SCRIPT_PY = '''\
from fastai.tabular.all import *
import sys

df = pd.read_csv(sys.argv[1])
dls = TabularDataLoaders.from_df(df, y_names="diagnosis", cont_names=list(df.columns[:10]),
                                 procs=[Normalize], bs=64, num_workers=0)
learn = tabular_learner(dls, layers=[16], metrics=accuracy)
learn.fit_one_cycle(1, 1e-2)
print("validation loss and accuracy:", learn.validate())
learn.fine_tune(1)
'''

BOOM_PY = failing_tabular_script(5, 'loss exploded at batch 5')


def record(name: str, env: dict, cwd: Path, *, ok: bool = True, **kwargs) -> None:
    run = run_worker(env, cwd=cwd, **kwargs)
    check_run(run, ok=ok)
    for line in run.lines:
        check_event(json.loads(line))
    (FIXTURES / f"{name}.ndjson").write_text("".join(run.lines), encoding="utf-8")
    (FIXTURES / f"{name}.envelope.json").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    print(f"{name}: {len(run.lines)} lines, {run.seconds:.0f}s, kinds {sorted(set(run.kinds()))}")


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="gpulink-fixtures-"))
    try:
        digits = write_digits(tmp / "digits", range(600), size=32)
        write_breast_cancer(tmp / "cancer" / "cancer.csv")

        vision = {"name": "digits", "vision": vision_task(
            data={"datasetId": "ds_digits"}, imageSize=32, batchSize=32, epochs=4,
            lr={"fixed": 0.01}, metrics=["accuracy", "error_rate"], fp16=True)}
        record("vision", envelope(vision, tmp / "vision" / "artifacts", data_dir=digits, rate=4),
               tmp)

        tabular = {"name": "cancer", "checkpoint": {"everyEpoch": True, "keepLast": 1},
                   "tabular": tabular_task(data={"datasetId": "ds_cancer"}, csvPath="cancer.csv",
                                           target="diagnosis", epochs=2, lr={"fixed": 0.01},
                                           metrics=["accuracy", "f1_score"])}
        record("tabular", envelope(tabular, tmp / "tabular" / "artifacts",
                                   data_dir=tmp / "cancer", rate=4), tmp)

        lr_find = {"lrFind": {"tabular": tabular["tabular"], **LR_FIND_SPAN, "numIterations": 40}}
        record("lr-find", envelope(lr_find, tmp / "lr" / "artifacts", data_dir=tmp / "cancer"), tmp)

        inputs = write_digits(tmp / "inputs", range(1790, 1797), size=32, layout="flat")
        predict = {"predict": {"modelJobId": "job_digits", "inputs": {"datasetId": "ds_inputs"},
                               "topK": 3}}
        record("predict", envelope(predict, tmp / "predict" / "artifacts", data_dir=inputs,
                                   model_path=tmp / "vision" / "artifacts" / "export.pkl"), tmp)

        cancel = {"vision": dict(vision["vision"], epochs=3, batchSize=8, fp16=False,
                                 fitMethod="FIT_METHOD_FINE_TUNE")}
        record("cancelled", envelope(cancel, tmp / "cancel" / "artifacts", data_dir=digits, rate=4),
               tmp, cancel_when=lambda e: "batch" in e and e["batch"]["iter"] >= 5)

        script_ws = tmp / "script-ws"
        script_ws.mkdir()
        (script_ws / "train.py").write_text(SCRIPT_PY)
        script = {"script": {"workspace": {"datasetId": "ds_ws"}, "entrypoint": "train.py",
                             "args": [str(tmp / "cancer" / "cancer.csv")]}}
        record("script", envelope(script, tmp / "script" / "artifacts", workspace_dir=script_ws,
                                  rate=4), tmp)

        ws = tmp / "ws"
        ws.mkdir()
        (ws / "train.py").write_text(BOOM_PY)
        failed = {"script": {"workspace": {"datasetId": "ds_ws"}, "entrypoint": "train.py",
                             "args": [str(tmp / "cancer" / "cancer.csv")]}}
        record("failed", envelope(failed, tmp / "failed" / "artifacts", workspace_dir=ws, rate=100),
               tmp, ok=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
