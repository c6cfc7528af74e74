import type { AgentClient } from '@gpulink/sdk';
import { describe, expect, it } from 'vitest';
import { agentLine } from './use-agents.js';

const client = {} as AgentClient;

describe('a line of the agents pane', () => {
  it('counts GPUs by name, and says what runs and waits', () => {
    const gpus = ['NVIDIA A100', 'Tesla T4', 'Tesla T4'];
    expect(
      agentLine({
        name: 'box',
        state: 'connected',
        client,
        hostname: 'gpu-box',
        gpus,
        running: 2,
        queued: 1,
      }),
    ).toBe('box  gpu-box · NVIDIA A100 + 2× Tesla T4 · 2 running, 1 queued');
    expect(
      agentLine({
        name: 'local',
        state: 'connected',
        client,
        hostname: 'vm',
        gpus: [],
        running: 0,
        queued: 0,
      }),
    ).toBe('local  vm · no GPU · 0 running, 0 queued');
  });
  it('says why an agent does not answer', () => {
    expect(agentLine({ name: 'colab-x', state: 'unreachable', reason: 'connection refused' })).toBe(
      'colab-x  unreachable: connection refused',
    );
    expect(agentLine({ name: 'colab-x', state: 'connecting' })).toBe('colab-x  connecting…');
  });
});
