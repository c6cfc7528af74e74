import type { StatsSample } from '@gpulink/sdk';
import { Box, Text } from 'ink';
import { formatBytes, formatPercent } from '../../view/format.js';
import { bar, sparkline } from './bars.js';

/** History of samples per GPU uuid, for sparklines. */
export type StatsHistory = StatsSample[];

/** GPU gauges with sparklines (memory, utilisation, temperature, power) and the host's RAM and CPU. */
export function GpuPanel({ history, width = 80 }: { history: StatsHistory; width?: number }) {
  const latest = history.at(-1);
  if (!latest) return <Text dimColor>waiting for the first stats sample…</Text>;
  const spark = Math.max(8, Math.min(30, width - 60));
  const host = latest.host;
  return (
    <Box flexDirection="column">
      {latest.gpus.length === 0 ? (
        <Text dimColor>no GPU on the agent's machine: jobs train on the CPU</Text>
      ) : null}
      {latest.gpus.map((g) => {
        const series = history.map((s) => s.gpus.find((x) => x.uuid === g.uuid));
        const mem = g.memoryUsedBytes / Math.max(1, g.memoryTotalBytes);
        return (
          <Box key={g.uuid || g.index} flexDirection="column">
            <Text bold>
              GPU {g.index} {g.name}
            </Text>
            <Text>
              {' mem  '}
              {bar(mem, 20)} {formatBytes(g.memoryUsedBytes)} / {formatBytes(g.memoryTotalBytes)}{' '}
              <Text dimColor>
                {sparkline(
                  series.map((x) => x?.memoryUsedBytes ?? 0),
                  spark,
                  { min: 0, max: g.memoryTotalBytes },
                )}
              </Text>
            </Text>
            <Text>
              {' util '}
              {bar((g.utilizationGpuPercent ?? 0) / 100, 20)}{' '}
              {formatPercent(g.utilizationGpuPercent).padStart(4)}{' '}
              <Text dimColor>
                {sparkline(
                  series.map((x) => x?.utilizationGpuPercent ?? 0),
                  spark,
                  { min: 0, max: 100 },
                )}
              </Text>
            </Text>
            <Text>
              {' temp '}
              {g.temperatureCelsius !== undefined ? `${g.temperatureCelsius}°C` : '-'}
              {'   power '}
              {g.powerDrawWatts !== undefined ? `${Math.round(g.powerDrawWatts)} W` : '-'}
              {g.powerLimitWatts !== undefined ? ` / ${Math.round(g.powerLimitWatts)} W` : ''}{' '}
              <Text dimColor>
                {sparkline(
                  series.map((x) => x?.powerDrawWatts ?? 0),
                  spark,
                  { min: 0, max: g.powerLimitWatts ?? 1 },
                )}
              </Text>
            </Text>
          </Box>
        );
      })}
      <Text>
        <Text bold>host </Text>
        RAM {formatBytes(host.memoryAvailableBytes)} free of {formatBytes(host.memoryTotalBytes)} CPU{' '}
        {formatPercent(host.cpuPercent)}{' '}
        <Text dimColor>
          {sparkline(
            history.map((s) => s.host.cpuPercent),
            spark,
            { min: 0, max: 100 },
          )}
        </Text>
      </Text>
      {latest.processes.map((p) => (
        <Text key={p.pid} dimColor>
          {p.jobId} pid {p.pid}: RSS {formatBytes(p.rssBytes)}
          {p.gpuMemoryBytes ? `, GPU ${formatBytes(p.gpuMemoryBytes)}` : ''}
        </Text>
      ))}
    </Box>
  );
}
