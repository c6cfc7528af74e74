// One job in full, as `gpulink jobs JOB` prints it: what it is, how it went, what it runs (the spec as
// the agent resolved it) and what it wrote.
import type { JobInfo } from '@gpulink/sdk';
import { formatAge, formatBytes, formatDuration, formatNumber, formatTable } from './format.js';

const label = (name: string, value: string) => `${name.padEnd(11)}${value}`;

/** A resolved task as `key  value` lines, nested objects by dotted key, in the SDK's field names. */
export function specLines(value: unknown, prefix = ''): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value !== 'object' || value instanceof Date || Array.isArray(value)) {
    const text = Array.isArray(value)
      ? value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(', ') || '[]'
      : value instanceof Date
        ? value.toISOString()
        : String(value);
    return [`${prefix}  ${text}`];
  }
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) =>
    specLines(v, prefix ? `${prefix}.${key}` : key),
  );
}

/** Aligned rows without a header, indented under a heading. */
const indentedRows = (rows: string[][]) =>
  formatTable(rows[0]?.map(() => '') ?? [], rows)
    .slice(1)
    .map((l) => `  ${l}`);

export function jobDetailLines(job: JobInfo, options: { wide?: boolean; now?: number } = {}): string[] {
  const now = options.now ?? Date.now();
  const ran =
    job.startedAt && (job.finishedAt ?? (job.state === 'running' ? new Date(now) : undefined))
      ? formatDuration((job.finishedAt?.getTime() ?? now) - job.startedAt.getTime())
      : undefined;
  const lines = [
    label('job', `${job.id}${job.name ? ` (${job.name})` : ''}`),
    label('state', `${job.state}${job.stateReason ? `: ${job.stateReason}` : ''}`),
    label('task', job.task.type),
    label('device', job.device || '-'),
    label('attempt', String(job.attempt)),
    label('created', formatAge(job.createdAt, now)),
  ];
  if (job.startedAt) lines.push(label('started', formatAge(job.startedAt, now)));
  if (job.finishedAt) lines.push(label('finished', formatAge(job.finishedAt, now)));
  if (ran) lines.push(label('ran for', ran));
  if (job.tags.length) lines.push(label('tags', job.tags.join(', ')));
  if (job.totalEpochs || job.completedEpochs)
    lines.push(label('epochs', `${job.completedEpochs}/${job.totalEpochs || '?'}`));
  const last = job.lastEpoch;
  if (last) {
    const metrics = Object.entries(last.metrics).map(([k, v]) => `${k} ${formatNumber(v)}`);
    lines.push(
      label(
        'last epoch',
        [
          `train loss ${formatNumber(last.trainLoss)}`,
          `valid loss ${formatNumber(last.validLoss)}`,
          ...metrics,
        ].join('  '),
      ),
    );
  }
  if (job.error) lines.push(label('error', `${job.error.kind}: ${job.error.message}`));
  lines.push('', 'spec (as the agent runs it)');
  const { type: _type, ...fields } = job.resolvedTask as { type: string } & Record<string, unknown>;
  lines.push(...indentedRows(specLines(fields).map((l) => l.split(/ {2}(.*)/s).slice(0, 2))));
  lines.push('', 'artifacts');
  if (job.artifacts.length === 0) lines.push('  none');
  else {
    const rows = job.artifacts.map((a) => [
      a.name,
      a.kind,
      formatBytes(a.sizeBytes),
      ...(options.wide ? [a.sha256] : []),
    ]);
    lines.push(...indentedRows(rows));
  }
  return lines.map((l) => l.trimEnd());
}
