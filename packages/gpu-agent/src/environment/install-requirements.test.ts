import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { workerPythonDir } from '../paths.js';
import { parseRequirements, planInstall } from './install-requirements.js';

const requirements = parseRequirements(readFileSync(join(workerPythonDir, 'requirements.txt'), 'utf8'));
const pinOf = (name: string) => requirements.find((r) => r.name === name)?.line;

describe('setup --in-place plan', () => {
  it('reads the pins of requirements.txt, comments dropped', () => {
    expect(pinOf('fastai')).toMatch(/^fastai==\d/);
    expect(pinOf('torch')).toMatch(/^torch==\d/);
    expect(requirements.every((r) => !r.line.includes('#'))).toBe(true);
  });

  it("keeps a host's torch as a constraint and lets torchvision follow it", () => {
    const plan = planInstall(requirements, { torch: '2.6.0+cu124', torchvision: null });
    expect(plan.constraints).toEqual(['torch==2.6.0+cu124']);
    expect(plan.install).toContain('torchvision');
    expect(plan.install).toContain(pinOf('fastai'));
    expect(plan.install.some((l) => l.startsWith('torch=='))).toBe(false);
    expect(plan.install.some((l) => l.startsWith('torchvision=='))).toBe(false);
  });

  it('leaves a torchvision the host has alone', () => {
    const plan = planInstall(requirements, { torch: '2.6.0', torchvision: '0.21.0' });
    expect(plan.install.some((l) => l.startsWith('torchvision'))).toBe(false);
  });

  it('installs the pinned torch on a host without one, and never the test-only tools', () => {
    const plan = planInstall(requirements, { torch: null, torchvision: null });
    expect(plan.constraints).toEqual([]);
    expect(plan.install).toContain(pinOf('torch'));
    expect(plan.install).toContain(pinOf('torchvision'));
    expect(plan.install.some((l) => l.startsWith('pytest'))).toBe(false);
  });
});
