// @ts-check
// Prints the agent machine's GPUs and RAM once a second, as the Colab tutorial did by hand.
//   GPULINK_URL=gpulink://... node examples/sdk/watch-stats.mjs [seconds]
import { connect } from '@gpulink/sdk';

const seconds = Number(process.argv[2] ?? 10);
const gib = (/** @type {number} */ n) => `${(n / 1024 ** 3).toFixed(1)} GiB`;
const agent = await connect();
try {
  const stop = AbortSignal.timeout(seconds * 1000);
  try {
    for await (const s of agent.stats({ intervalMs: 1000, signal: stop })) {
      const gpus = s.gpus.map(
        (g) =>
          `GPU ${g.index} ${g.name}: ${gib(g.memoryUsedBytes)} used / ${gib(g.memoryTotalBytes)}, util ${g.utilizationGpuPercent ?? '-'}%`,
      );
      console.log(
        `${s.time.toISOString()} RAM free ${gib(s.host.memoryAvailableBytes)} | ${gpus.join(' | ') || 'no GPU'}`,
      );
    }
  } catch (error) {
    if (!stop.aborted) throw error;
  }
} finally {
  await agent.close();
}
