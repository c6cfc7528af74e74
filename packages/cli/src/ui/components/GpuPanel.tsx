import type { GpuStats, StatsSample } from '@gpulink/sdk';
import { Box, Text } from 'ink';
import { formatBytes, formatPercent } from '../../view/format.js';
import { bar, sparkline } from './bars.js';

/** History of samples per GPU uuid, for sparklines. */
export type StatsHistory = StatsSample[];

/** Fixed text on a gauge line besides its bars and sparklines (labels, figures, gaps). */
const GAUGE_TEXT = 38;

/** Bar and sparkline widths for a gauge line `width` columns wide (two bars, two sparklines). */
function gaugeWidths(width: number) {
  const free = Math.max(0, width - GAUGE_TEXT);
  const barWidth = Math.max(4, Math.min(20, Math.floor(free / 4)));
  const spark = Math.max(0, Math.min(40, Math.floor((free - 2 * barWidth) / 2)));
  return { barWidth, spark };
}

const mhz = (n: number | undefined) => (n === undefined ? '-' : `${n} MHz`);

/**
 * GPU gauges with sparklines (memory, utilisation), temperature, power and clocks, the host's RAM and
 * CPU, and each job's worker (RSS and GPU memory): at most `rows` lines, each cut to `width` columns.
 * What does not fit goes last first: the workers, then the host.
 */
export function GpuPanel({
  history,
  width = 80,
  rows = 99,
}: {
  history: StatsHistory;
  width?: number;
  rows?: number;
}) {
  const latest = history.at(-1);
  if (!latest) return <Text dimColor>waiting for the first stats sample…</Text>;
  const { barWidth, spark } = gaugeWidths(width);
  const host = latest.host;
  const lines: React.ReactNode[] = [];
  if (latest.gpus.length === 0)
    lines.push(
      <Text key="none" dimColor wrap="truncate-end">
        no GPU on the agent's machine: jobs train on the CPU
      </Text>,
    );
  for (const g of latest.gpus) {
    const series = history.map((s) => s.gpus.find((x) => x.uuid === g.uuid));
    lines.push(<GpuTitle key={`${g.uuid}t`} gpu={g} />);
    lines.push(
      <Text key={`${g.uuid}g`} wrap="truncate-end">
        {' mem '}
        {bar(g.memoryUsedBytes / Math.max(1, g.memoryTotalBytes), barWidth)}{' '}
        {`${formatBytes(g.memoryUsedBytes)}/${formatBytes(g.memoryTotalBytes)}`.padEnd(17)}{' '}
        <Text dimColor>
          {sparkline(
            series.map((x) => x?.memoryUsedBytes ?? 0),
            spark,
            { min: 0, max: g.memoryTotalBytes },
          ).padEnd(spark)}
        </Text>
        {'  util '}
        {bar((g.utilizationGpuPercent ?? 0) / 100, barWidth)}{' '}
        {formatPercent(g.utilizationGpuPercent).padStart(4)}{' '}
        <Text dimColor>
          {sparkline(
            series.map((x) => x?.utilizationGpuPercent ?? 0),
            spark,
            { min: 0, max: 100 },
          )}
        </Text>
      </Text>,
    );
  }
  lines.push(
    <Text key="host" wrap="truncate-end">
      <Text bold>host</Text> RAM {formatBytes(host.memoryAvailableBytes)} free of{' '}
      {formatBytes(host.memoryTotalBytes)} · CPU {formatPercent(host.cpuPercent).padStart(4)}{' '}
      <Text dimColor>
        {sparkline(
          history.map((s) => s.host.cpuPercent),
          spark,
          { min: 0, max: 100 },
        )}
      </Text>
    </Text>,
  );
  const workers = latest.processes;
  const room = rows - lines.length;
  const shown = workers.length > room ? workers.slice(0, Math.max(0, room - 1)) : workers;
  for (const p of shown)
    lines.push(
      <Text key={p.pid} dimColor wrap="truncate-end">
        {p.jobId} pid {p.pid} · RSS {formatBytes(p.rssBytes)}
        {latest.gpus.length > 0 ? ` · GPU ${formatBytes(p.gpuMemoryBytes)}` : ''}
      </Text>,
    );
  if (shown.length < workers.length && room > 0)
    lines.push(
      <Text key="more" dimColor wrap="truncate-end">
        +{workers.length - shown.length} more job processes
      </Text>,
    );
  return <Box flexDirection="column">{lines.slice(0, Math.max(1, rows))}</Box>;
}

function GpuTitle({ gpu: g }: { gpu: GpuStats }) {
  const power =
    g.powerDrawWatts === undefined
      ? '-'
      : `${Math.round(g.powerDrawWatts)}${g.powerLimitWatts === undefined ? '' : `/${Math.round(g.powerLimitWatts)}`} W`;
  return (
    <Text wrap="truncate-end">
      <Text bold>
        GPU {g.index} {g.name}
      </Text>
      <Text dimColor>
        {' · '}
        {g.temperatureCelsius === undefined ? '-' : `${g.temperatureCelsius}°C`} · {power} · SM{' '}
        {mhz(g.clockSmMhz)} · mem {mhz(g.clockMemoryMhz)}
      </Text>
    </Text>
  );
}
