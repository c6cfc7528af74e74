import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentClient, ScriptOptions } from '@gpulink/sdk';

/** Uploads a one-file Python workspace; the options run it as a script job on the CPU. */
export async function scriptJob(
  client: AgentClient,
  fileName: string,
  source: string,
): Promise<ScriptOptions> {
  const workspace = await mkdtemp(join(tmpdir(), 'gpulink-cli-script-'));
  await writeFile(join(workspace, fileName), source);
  const { dataset } = await client.datasets.upload(workspace, { hashCache: false });
  return { workspace: { datasetId: dataset.id }, entrypoint: fileName, gpus: 0 };
}
