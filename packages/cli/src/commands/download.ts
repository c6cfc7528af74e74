import type { DownloadResult, Job } from '@gpulink/sdk';
import { createProgressLine, transferText } from '../view/progress-line.js';
import { RateMeter } from '../view/rate.js';
import type { OutputMode } from './context.js';

/** Downloads an artifact, showing bytes, rate and time left on stderr (not with --json). */
export async function downloadWithProgress(
  job: Job,
  name: string,
  dest: string,
  mode: OutputMode,
): Promise<DownloadResult> {
  if (mode === 'json') return job.artifacts.download(name, dest);
  const line = createProgressLine(process.stderr);
  const meter = new RateMeter();
  let shown = false;
  const result = await job.artifacts.download(name, dest, {
    onProgress: (done, total) => {
      meter.update(done, Date.now());
      shown = true;
      line.update(`downloading ${name}: ${transferText(done, total, meter)}`, 'downloading');
    },
  });
  if (shown) line.done(`downloaded ${name}: ${transferText(result.sizeBytes, result.sizeBytes, meter)}`);
  return result;
}
