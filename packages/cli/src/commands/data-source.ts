import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentClient, DataSource } from '@gpulink/sdk';
import { CliError } from '../cli-error.js';
import { formatBytes, plural } from '../view/format.js';
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

/** Uploads a folder through the content-addressed path, reporting progress on stderr. */
export async function uploadFolder(agent: AgentClient, dir: string, mode: OutputMode, name?: string) {
  let lastPrint = 0;
  const result = await agent.datasets.upload(dir, {
    name,
    onProgress: (p) => {
      if (mode === 'json' || Date.now() - lastPrint < 500) return;
      lastPrint = Date.now();
      process.stderr.write(
        `\r${p.phase} ${p.filesHashed}/${p.filesTotal} files, ${formatBytes(p.bytesSent)} of ${formatBytes(p.bytesToSend)} sent   `,
      );
    },
  });
  if (mode !== 'json') {
    process.stderr.write(
      `\r${result.dataset.id}: ${plural(result.fileCount, 'file')}, ${formatBytes(result.totalBytes)} (${formatBytes(result.sentBytes)} sent, ${formatBytes(result.reusedBytes)} already on the agent)\n`,
    );
  }
  return result.dataset;
}
