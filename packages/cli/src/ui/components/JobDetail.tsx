import { Box, Text } from 'ink';
import {
  formatBytes,
  formatDuration,
  formatItemRate,
  formatLearningRate,
  formatNumber,
} from '../../view/format.js';
import { lossChartLines, lrFindChartLines } from '../../view/job-charts.js';
import { elapsedMs, etaMs, type JobView } from '../../view/job-view.js';
import { bar, sparkline } from './bars.js';

const STATE_COLOR: Record<string, string> = {
  queued: 'gray',
  starting: 'yellow',
  running: 'cyan',
  succeeded: 'green',
  failed: 'red',
  cancelled: 'magenta',
  interrupted: 'magenta',
};

/**
 * One job: progress, epochs, loss chart, lr_find curve, confusion matrix, log tail, outcome. With
 * `chartRows`, the loss and lr_find curves are charts with axes that tall; without, sparklines.
 */
export function JobDetail({
  view,
  logLines = 6,
  width = 80,
  chartRows,
  now = Date.now(),
  modelLine = true,
}: {
  view: JobView;
  logLines?: number;
  width?: number;
  chartRows?: number;
  /** The clock the elapsed time is read against (a view that re-renders each second passes it). */
  now?: number;
  /** Show where the model is (the follow view leaves it to the summary printed after it). */
  modelLine?: boolean;
}) {
  const done = view.completedEpochs;
  const planned = Math.max(view.totalEpochs, done);
  const b = view.batch;
  const barWidth = Math.max(6, Math.min(40, width - 40));
  const elapsed = elapsedMs(view, now);
  const eta = view.state === 'running' ? etaMs(view) : undefined;
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <Text bold>{view.jobId}</Text>{' '}
        {view.lastSeq === 0 ? (
          <Text color="white">connecting…</Text>
        ) : (
          <Text color={STATE_COLOR[view.state] ?? 'white'}>{view.state}</Text>
        )}
        {view.stateReason ? <Text dimColor> ({view.stateReason})</Text> : null}
        {view.attempt > 1 ? <Text dimColor> attempt {view.attempt}</Text> : null}
        {elapsed !== undefined ? <Text dimColor> · {formatDuration(elapsed)} elapsed</Text> : null}
        {eta !== undefined ? <Text dimColor> · about {formatDuration(eta)} left</Text> : null}
      </Text>
      {planned > 0 ? (
        <Text wrap="truncate-end">
          epochs {bar(done / planned, barWidth)} {done}/{planned}
        </Text>
      ) : null}
      {b && view.state === 'running' ? (
        <Text wrap="truncate-end">
          {b.phase === 'train' ? 'train ' : 'valid '} {bar(b.iter / Math.max(1, b.iters), barWidth)} {b.iter}/
          {b.iters}
          {b.smoothLoss !== undefined ? `  loss ${formatNumber(b.smoothLoss)}` : ''}
          {b.itemsPerSecond > 0 ? `  ${formatItemRate(b.itemsPerSecond)}` : ''}
        </Text>
      ) : null}
      {view.phase && view.state === 'running' ? <Text color="cyan">{view.phase}…</Text> : null}
      {view.lrFindProgress && view.state === 'running' ? (
        <Text wrap="truncate-end">
          lr_find {bar(view.lrFindProgress.iter / Math.max(1, view.lrFindProgress.iters), barWidth)}{' '}
          {view.lrFindProgress.iter}/{view.lrFindProgress.iters}
          {`  lr ${formatLearningRate(view.lrFindProgress.lr)}`}
          {view.lrFindProgress.smoothLoss !== undefined
            ? `  loss ${formatNumber(view.lrFindProgress.smoothLoss)}`
            : ''}
        </Text>
      ) : null}
      {view.epochs.length > 0 ? <EpochTable view={view} /> : null}
      {chartRows && view.trainLossSeries.length > 1 ? (
        <Chart lines={lossChartLines(view, { width, height: chartRows })} title="loss" />
      ) : view.trainLossSeries.length > 1 ? (
        <Text wrap="truncate-end">
          <Text dimColor>loss </Text>
          {sparkline(view.trainLossSeries, Math.max(10, width - 20))}
          <Text dimColor> {formatNumber(view.trainLossSeries.at(-1))}</Text>
        </Text>
      ) : null}
      {chartRows && view.lrFind ? (
        <Chart lines={lrFindChartLines(view.lrFind, { width, height: chartRows })} title="lr_find" />
      ) : view.lrFind ? (
        <Box flexDirection="column">
          <Text wrap="truncate-end">
            <Text dimColor>lr_find </Text>
            {sparkline(view.lrFind.losses, Math.max(10, width - 20))}
          </Text>
          <Text wrap="truncate-end" dimColor>
            suggested:{' '}
            {view.lrFind.suggestions.map((s) => `${s.method} ${formatLearningRate(s.lr)}`).join('  ')}
          </Text>
        </Box>
      ) : null}
      {view.interpretation ? <Confusion view={view} /> : null}
      {view.warnings.slice(-2).map((w, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: warnings have no identity beyond their order
        <Text wrap="truncate-end" key={i} color="yellow">
          warning: {w.message}
        </Text>
      ))}
      {logLines > 0 && view.logs.length > 0 ? (
        <Box flexDirection="column" marginTop={1}>
          {view.logs.slice(-logLines).map((l) => (
            <Text
              key={l.seq}
              dimColor={l.stream !== 'stderr'}
              color={l.stream === 'stderr' ? 'yellow' : undefined}
              wrap="truncate-end"
            >
              {l.text}
            </Text>
          ))}
        </Box>
      ) : null}
      {view.error ? (
        <Text wrap="truncate-end" color="red">
          {view.error.kind}: {view.error.message}
        </Text>
      ) : null}
      {view.artifacts
        .filter((a) => modelLine && a.kind === 'model')
        .map((a) => (
          <Text wrap="truncate-end" key={a.name} color="green">
            model {a.name} ({formatBytes(a.sizeBytes)}) — gpulink pull {view.jobId} {a.name}
          </Text>
        ))}
    </Box>
  );
}

function Chart({ lines, title }: { lines: string[]; title: string }) {
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text dimColor>{title}</Text>
      {lines.map((l, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: chart rows are positional
        <Text key={i} wrap="truncate-end">
          {l}
        </Text>
      ))}
    </Box>
  );
}

function EpochTable({ view }: { view: JobView }) {
  const names = view.metricNames.length ? view.metricNames : Object.keys(view.epochs.at(-1)?.metrics ?? {});
  const header = ['epoch', 'train_loss', 'valid_loss', ...names, 'time'];
  const rows = view.epochs
    .slice(-8)
    .map((e) => [
      String(e.completedEpochs),
      formatNumber(e.trainLoss),
      formatNumber(e.validLoss),
      ...names.map((n) => formatNumber(e.metrics[n])),
      formatDuration(e.durationMs),
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate-end" dimColor>
        {fmt(header)}
      </Text>
      {rows.map((r) => (
        <Text wrap="truncate-end" key={r[0]}>
          {fmt(r)}
        </Text>
      ))}
    </Box>
  );
}

function Confusion({ view }: { view: JobView }) {
  const interp = view.interpretation;
  if (!interp) return null;
  const classes = interp.classes;
  if (classes.length > 12) {
    const worst = interp.mostConfused.slice(0, 5).map((p) => `${p.actual}→${p.predicted} ×${p.count}`);
    return <Text wrap="truncate-end">most confused: {worst.join(', ') || 'none'}</Text>;
  }
  const w = Math.max(
    3,
    ...classes.map((c) => c.length),
    ...interp.confusionMatrix.flat().map((n) => String(n).length),
  );
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text wrap="truncate-end" dimColor>
        confusion (rows actual, columns predicted)
      </Text>
      <Text
        wrap="truncate-end"
        dimColor
      >{`${''.padStart(w)} ${classes.map((c) => c.padStart(w)).join(' ')}`}</Text>
      {interp.confusionMatrix.map((row, i) => (
        <Text wrap="truncate-end" key={classes[i]}>
          <Text dimColor>{(classes[i] ?? '').padStart(w)}</Text>{' '}
          {row.map((n, j) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: matrix cells are positional
            <Text key={j} color={i === j ? 'green' : n > 0 ? 'red' : undefined} dimColor={n === 0}>
              {String(n).padStart(w)}{' '}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
