import { describe, expect, it } from 'vitest';
import { isGpulinkError } from './errors.js';
import { gpuCountFor } from './job-gpus.js';

const agentWith = (n: number) => ({ gpus: Array.from({ length: n }, () => ({}) as never) });

describe('gpuCountFor', () => {
  it("resolves 'all' to the agent's GPUs and leaves unset to the agent", () => {
    expect(gpuCountFor('all', agentWith(4))).toBe(4);
    expect(gpuCountFor(undefined, agentWith(0))).toBeUndefined();
    expect(gpuCountFor(2, agentWith(2))).toBe(2);
    expect(gpuCountFor(0, agentWith(0))).toBe(0);
  });

  it('refuses more GPUs than the agent has with INVALID_ARGUMENT and the count it has', () => {
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const e = refused(() => gpuCountFor(3, agentWith(2)));
    expect(isGpulinkError(e) && e.code).toBe('INVALID_ARGUMENT');
    expect((e as Error).message).toBe(
      'INVALID_ARGUMENT: gpus: the job asks for 3 GPU(s) but this agent has 2',
    );
    expect((refused(() => gpuCountFor('all', agentWith(0))) as Error).message).toContain('has no GPU');
    expect((refused(() => gpuCountFor(1.5, agentWith(2))) as Error).message).toContain('whole number');
  });
});
