// After a followed job ends, its plots (fastai's own lr_find and loss plots, artifacts of kind
// "plot") drawn inline on terminals that show images; elsewhere the text charts above are all.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '@gpulink/sdk';
import { detectImageProtocol, inlineImage } from '../view/inline-image.js';
import type { JobView } from '../view/job-view.js';

export async function showPlotsInline(job: Job, view: JobView, out: NodeJS.WriteStream): Promise<void> {
  const protocol = detectImageProtocol();
  const plots = view.artifacts.filter((a) => a.kind === 'plot');
  if (!protocol || plots.length === 0) return;
  const dir = await mkdtemp(join(tmpdir(), 'gpulink-plots-'));
  try {
    for (const plot of plots) {
      const saved = await job.artifacts.download(plot.name, join(dir, plot.name));
      out.write(`${plot.name}\n`);
      out.write(
        inlineImage(await readFile(saved.path), protocol, { columns: Math.min(out.columns ?? 80, 100) }),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
