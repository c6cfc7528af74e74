// One job's events, folded three ways: by the agent into its job record (GetJob), by the SDK into
// job.wait()'s summary, and by the CLI into its view. A real agent runs a real fastai script with two
// fits on the CPU, so the planned epochs grow when the second one starts.
import { startTestAgent, type TestAgent } from '@gpulink/gpu-agent/testing';
import { type AgentClient, connect, type JobEvent, type JobInfo, type JobSummary } from '@gpulink/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scriptJob } from '../test-utils/script-job.js';
import { emptyJobView, reduceJobView } from './job-view.js';

let agent: TestAgent;
let client: AgentClient;

beforeAll(async () => {
  agent = await startTestAgent();
  client = await connect(agent.url);
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
});

/** Two fastai fits on fastai's own synthetic regression data: the plan grows when the second starts. */
const twoFits = `
from fastai.test_utils import synth_learner
learn = synth_learner(n_trn=4, n_val=2)
learn.fit(1, lr=0.01)
learn.fit(2, lr=0.01)
`;

/** The fields the agent's record and the SDK's summary share, which all three folds must agree on. */
function shared(job: JobInfo | JobSummary) {
  const lastEpoch = 'lastEpoch' in job ? job.lastEpoch : job.epochs.at(-1);
  return {
    state: job.state,
    stateReason: job.stateReason,
    attempt: job.attempt,
    lastSeq: job.lastSeq,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    completedEpochs: job.completedEpochs,
    totalEpochs: job.totalEpochs,
    lastEpoch,
    artifacts: job.artifacts,
    error: job.error,
  };
}

describe('the agent, the SDK and the CLI fold a job the same way', () => {
  it('agree on every shared field of a real two-fit run', async () => {
    const job = await client.runScript(await scriptJob(client, 'two_fits.py', twoFits));
    const events: JobEvent[] = [];
    const summary = await job.wait({ onEvent: (e) => events.push(e) });
    const info = await job.refresh();
    const view = events.reduce(reduceJobView, emptyJobView(job.id));

    expect(summary.state).toBe('succeeded');
    expect(events.filter((e) => e.type === 'fitStarted')).toHaveLength(2);
    expect(info.totalEpochs).toBe(3);
    expect(info.completedEpochs).toBe(3);
    // The record's start is its STARTING event, and its end the terminal one.
    const states = events.filter((e) => e.type === 'state');
    expect(info.startedAt).toEqual(states.find((e) => e.state === 'starting')?.time);
    expect(info.finishedAt).toEqual(states.at(-1)?.time);

    expect(shared(summary)).toEqual(shared(info));
    expect(shared(view)).toEqual(shared(info));
  });
});
