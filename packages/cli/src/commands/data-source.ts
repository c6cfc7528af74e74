import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentClient, DataSource } from '@gpulink/sdk';
import { CliError } from '../cli-error.js';
import { formatBytes, plural } from '../view/format.js';
import { createProgressLine, transferText } from '../view/progress-line.js';
import { RateMeter } from '../view/rate.js';
import type { OutputMode } from './context.js';

/**
 * Turns a DATA argument into a DataSource: `ds_…` is an uploaded dataset, `agent:/path` a folder on
 * the agent's machine, `fastai:NAME` a fastai URLs name, an http(s) URL an archive the agent fetches,
 * and anything else a local folder, uploaded first (only the files the agent lacks are sent).
 */
export async function resolveDataArg(agent: AgentClient, arg: string, mode: OutputMode): Promise<DataSource> {
  if (/^ds_[0-9a-f]{24}$/.test(arg)) return { datasetId: arg };
  if (arg.startsWith('agent:')) return { agentPath: arg.slice('agent:'.length) };
  if (arg.startsWith('fastai:')) return { fastaiUrl: arg.slice('fastai:'.length) };
  if (/^https?:\/\//.test(arg)) return { url: arg };
  const dir = resolve(arg);
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory()) {
    throw new CliError(
      `${arg}: not a folder here, a dataset id (ds_…), agent:/path, fastai:NAME or an http(s) URL`,
    );
  }
  return { datasetId: (await uploadFolder(agent, dir, mode)).id };
}

/**
 * Uploads a folder through the content-addressed path, reporting progress on stderr: files and bytes
 * hashed (and sent meanwhile), then bytes sent, each with its rate and the time left.
 */
export async function uploadFolder(agent: AgentClient, dir: string, mode: OutputMode, name?: string) {
  const line = mode === 'json' ? undefined : createProgressLine(process.stderr);
  const meters = { hashing: new RateMeter(), uploading: new RateMeter() };
  const result = await agent.datasets.upload(dir, {
    name,
    onProgress: (p) => {
      if (!line) return;
      const at = Date.now();
      if (p.phase === 'hashing') {
        meters.hashing.update(p.bytesHashed, at);
        // A first upload sends what the agent lacks while it still hashes.
        const sent = p.bytesSent > 0 ? `; ${formatBytes(p.bytesSent)} sent` : '';
        line.update(
          `hashing ${p.filesHashed}/${p.filesTotal} files, ${transferText(p.bytesHashed, p.bytesTotal, meters.hashing)}${sent}`,
          p.phase,
        );
      } else if (p.phase === 'uploading') {
        meters.uploading.update(p.bytesSent, at);
        line.update(
          p.bytesToSend > 0
            ? `uploading ${transferText(p.bytesSent, p.bytesToSend, meters.uploading)}`
            : 'uploading nothing: the agent has every file',
          p.phase,
        );
      } else line.update(`${p.phase} ${plural(p.filesTotal, 'file')}`, p.phase);
    },
  });
  line?.done(
    `${result.dataset.id}: ${plural(result.fileCount, 'file')}, ${formatBytes(result.totalBytes)} (${formatBytes(result.sentBytes)} sent, ${formatBytes(result.reusedBytes)} already on the agent)`,
  );
  return result.dataset;
}
