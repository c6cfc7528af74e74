// The worker's recorded fd-3 output (python/tests/fixtures, written by tests/record_fixtures.py from
// real fastai runs) passes the agent's own checks of worker lines, so the two sides of the worker
// protocol are held to each other by what the worker really writes, not by a hand-written sample.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobEvent } from '@gpulink/proto';
import { describe, expect, it } from 'vitest';
import { workerPythonDir } from '../paths.js';
import { contractType, validateJson } from '../rpc/contract.js';
import { WORKER_EVENT_KINDS } from './worker-protocol.js';

const dir = join(workerPythonDir, 'tests', 'fixtures');
const recordings = readdirSync(dir)
  .filter((f) => f.endsWith('.ndjson'))
  .map((f) => f.replace(/\.ndjson$/, ''));
const jobEvent = contractType('JobEvent');

describe('recorded worker output', () => {
  it('covers every kind of event a worker sends', () => {
    const seen = new Set<string>();
    for (const name of recordings) {
      for (const line of readFileSync(join(dir, `${name}.ndjson`), 'utf8')
        .trimEnd()
        .split('\n')) {
        seen.add(Object.keys(JSON.parse(line))[0] as string);
      }
    }
    // 'log' travels on stdout/stderr, not fd 3.
    expect([...WORKER_EVENT_KINDS].filter((k) => k !== 'log' && !seen.has(k))).toEqual([]);
  });

  it.each(recordings)('%s: every line is one the agent takes, valid against the contract', (name) => {
    const lines = readFileSync(join(dir, `${name}.ndjson`), 'utf8')
      .trimEnd()
      .split('\n');
    const messages = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(messages[0] ?? {})).toEqual(['ready']);
    for (const message of messages.slice(1)) {
      const keys = Object.keys(message);
      expect(keys).toHaveLength(1);
      const key = keys[0] as string;
      if (key === 'done') {
        expect(['succeeded', 'cancelled']).toContain((message.done as { outcome: string }).outcome);
        continue;
      }
      expect(WORKER_EVENT_KINDS.has(key), key).toBe(true);
      expect(validateJson(jobEvent, message, 'event'), JSON.stringify(message).slice(0, 200)).toBeUndefined();
      expect(JobEvent.fromJSON(message).kind?.$case).toBe(key);
    }
  });
});
