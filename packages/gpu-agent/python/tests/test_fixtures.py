"""The recorded fd-3 fixtures (tests/record_fixtures.py) still match the worker's contract checks;
the agent's own checks of worker lines run over the same files in src/jobs/worker-output.test.ts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import WorkerRun, check_event, check_fit_sequence, check_run
from gpulink_worker.job import ENVELOPE_FIELDS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPECTED = {
    "vision": ("succeeded", {"fitStarted", "batch", "epochEnded", "artifact", "interpretation",
                             "warning"}),
    "tabular": ("succeeded", {"fitStarted", "batch", "epochEnded", "artifact", "interpretation"}),
    "lr-find": ("succeeded", {"lrFindProgress", "lrFindResult"}),
    "predict": ("succeeded", {"predictions", "artifact"}),
    "cancelled": ("cancelled", {"fitStarted", "batch"}),
    "script": ("succeeded", {"fitStarted", "batch", "epochEnded"}),
    "failed": (None, {"fitStarted", "batch", "error"}),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_valid_worker_output(name):
    text = (FIXTURES / f"{name}.ndjson").read_text(encoding="utf-8")
    assert text.endswith("\n")
    events = [json.loads(line) for line in text.splitlines()]
    for e in events:
        check_event(e)
    outcome, kinds = EXPECTED[name]
    run = WorkerRun(events, 0 if outcome else 1, "", "", 0.0)
    check_run(run, ok=outcome is not None)
    check_fit_sequence(run)
    assert kinds <= set(run.kinds())
    if outcome:
        assert run.one("done")["outcome"] == outcome
    env = json.loads((FIXTURES / f"{name}.envelope.json").read_text(encoding="utf-8"))
    assert {"jobId", "attempt", "spec", "artifactsDir", "device", "batchEventsPerSecond"} <= set(env)
    assert set(env) <= set(ENVELOPE_FIELDS)
