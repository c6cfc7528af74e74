import { readFileSync } from 'node:fs';
import type { JobEvent } from '@gpulink/sdk';

/**
 * Job events recorded from a real agent run (scripts/record-fixtures.mjs), with their dates revived.
 * Names: vision-digits, lr-find, failed-script.
 */
export function recordedEvents(name: 'vision-digits' | 'lr-find' | 'failed-script'): JobEvent[] {
  const text = readFileSync(new URL(`../ui/fixtures/${name}.json`, import.meta.url), 'utf8');
  return JSON.parse(text, (key, value) =>
    (key === 'time' || key.endsWith('At')) && typeof value === 'string' ? new Date(value) : value,
  ) as JobEvent[];
}
