import { readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import {
  type DatasetRef,
  FitMethod,
  type JobSpec,
  JobState,
  type LearningRate,
  type TabularTask,
  type VisionTask,
} from '@gpulink/proto';
import { unsafePathReason } from '../data/safe-path.js';
import { workerPythonDir } from '../paths.js';
import { failedPrecondition, invalidArgument, notFound } from '../rpc/status-error.js';
import { resolveSpec } from './resolve-spec.js';

/** What validation needs to look up. */
export interface SpecContext {
  /** The folder of a committed dataset; throws NOT_FOUND when there is none. */
  datasetDir(id: string): Promise<string>;
  /** A finished job's state and artifact names; undefined when the job is unknown. */
  jobFacts(id: string): { state: JobState; artifacts: string[] } | undefined;
  /** Number of GPUs on the agent's machine. */
  gpuCount: number;
  /** Tests only: the agent's GPUs are stand-ins, run as CPU processes (no GPU exists there). */
  gpuStandIn?: boolean;
}

/** Metric names the worker maps to fastai metrics. */
/** Metric names a spec may ask for: the worker's list (python/gpulink_worker/known_metrics.json). */
export const KNOWN_METRICS = new Set<string>(
  (
    JSON.parse(readFileSync(join(workerPythonDir, 'gpulink_worker', 'known_metrics.json'), 'utf8')) as {
      metrics: string[];
    }
  ).metrics,
);

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ARCH = /^[A-Za-z0-9_.\-/]{1,128}$/;

/**
 * Validates a JobSpec before anything is recorded and returns the device it runs on. Every problem
 * is INVALID_ARGUMENT (or NOT_FOUND / FAILED_PRECONDITION for what it refers to) naming the field.
 * This is the one check of each constraint on the agent's side of the wire: the spec is checked
 * with its defaults resolved, as the worker will run it, and the worker checks none again.
 */
export async function validateSpec(spec: JobSpec, ctx: SpecContext): Promise<string> {
  if (spec.name.length > 200) throw invalidArgument('spec.name: at most 200 characters');
  if (spec.tags.length > 32) throw invalidArgument('spec.tags: at most 32 tags');
  for (const [i, tag] of spec.tags.entries()) {
    if (!/^[\w.:=-]{1,64}$/.test(tag))
      throw invalidArgument(`spec.tags[${i}]: 1-64 letters, digits or _ . : = -`);
  }
  const device = pickDevice(spec.gpuCount, ctx.gpuCount);
  const task = resolveSpec(spec, device).task;
  if (!task) throw invalidArgument('spec.task: set exactly one of vision, tabular, script, lr_find, predict');
  if ((spec.gpuCount ?? 0) > 1) checkSeveralGpus(task);
  switch (task.$case) {
    case 'vision':
      await checkVision(task.value, 'spec.vision', ctx, true);
      break;
    case 'tabular':
      await checkTabular(task.value, 'spec.tabular', ctx, true);
      break;
    case 'lrFind': {
      const t = task.value;
      if (!t.setup) throw invalidArgument('spec.lr_find.setup: set vision or tabular');
      if (t.setup.$case === 'vision') await checkVision(t.setup.value, 'spec.lr_find.vision', ctx, false);
      else await checkTabular(t.setup.value, 'spec.lr_find.tabular', ctx, false);
      if (!(t.startLr > 0 && t.endLr > 0))
        throw invalidArgument('spec.lr_find: start_lr and end_lr must be positive');
      if (t.startLr >= t.endLr) throw invalidArgument('spec.lr_find: start_lr must be below end_lr');
      if (t.numIterations > 10_000) throw invalidArgument('spec.lr_find.num_iterations: at most 10000');
      break;
    }
    case 'script': {
      const t = task.value;
      if (!t.workspace)
        throw invalidArgument('spec.script.workspace: required (the folder holding the script)');
      const root = await resolveRef(t.workspace, 'spec.script.workspace', ctx);
      if (!root) throw invalidArgument('spec.script.workspace: must be an uploaded dataset or an agent path');
      checkRelative(t.entrypoint, 'spec.script.entrypoint');
      if (!t.entrypoint.endsWith('.py'))
        throw invalidArgument('spec.script.entrypoint: must name a .py file');
      await mustBeFile(join(root, t.entrypoint), 'spec.script.entrypoint');
      for (const name of Object.keys(t.env)) {
        if (!ENV_NAME.test(name))
          throw invalidArgument(`spec.script.env: "${name}" is not a valid variable name`);
      }
      if (t.data) await resolveRef(t.data, 'spec.script.data', ctx);
      break;
    }
    case 'predict': {
      const t = task.value;
      const facts = ctx.jobFacts(t.modelJobId);
      if (!t.modelJobId) throw invalidArgument('spec.predict.model_job_id: required');
      if (!facts) throw notFound(`spec.predict.model_job_id: job ${t.modelJobId} does not exist`);
      if (facts.state !== JobState.JOB_STATE_SUCCEEDED) {
        throw failedPrecondition(`spec.predict.model_job_id: job ${t.modelJobId} has not succeeded`);
      }
      if (!facts.artifacts.includes(t.modelArtifact)) {
        throw notFound(
          `spec.predict.model_artifact: job ${t.modelJobId} has no artifact "${t.modelArtifact}"`,
        );
      }
      if (!t.inputs) throw invalidArgument('spec.predict.inputs: required');
      const root = await resolveRef(t.inputs, 'spec.predict.inputs', ctx);
      for (const [i, p] of t.inputPaths.entries()) {
        checkRelative(p, `spec.predict.input_paths[${i}]`);
        if (root) await mustBeFile(join(root, p), `spec.predict.input_paths[${i}]`);
      }
      if (t.topK > 1000) throw invalidArgument('spec.predict.top_k: at most 1000');
      break;
    }
  }
  return device;
}

/** "cpu", or "cuda" for a job on GPUs (which ones: the device queues decide when it starts). */
function pickDevice(gpuCount: number | undefined, available: number): string {
  if (gpuCount === undefined) return available > 0 ? 'cuda' : 'cpu';
  if (gpuCount === 0) return 'cpu';
  if (gpuCount > available) {
    throw invalidArgument(
      `spec.gpu_count: the job asks for ${gpuCount} GPU(s) but this agent has ${available}`,
    );
  }
  return 'cuda';
}

/**
 * What runs on several GPUs: training (vision, tabular) and scripts. fastai's LRFinder saves the
 * model in one rank and reloads it in every rank (each with its own temporary folder), so the
 * learning-rate finder runs on one GPU; so does predict, which has no training to share out.
 */
function checkSeveralGpus(task: NonNullable<JobSpec['task']>): void {
  const lr = task.$case === 'vision' || task.$case === 'tabular' ? task.value.lr?.value : undefined;
  if (task.$case === 'predict')
    throw invalidArgument('spec.gpu_count: predict runs on one GPU; set gpu_count 1');
  if (task.$case === 'lrFind' || lr?.$case === 'find') {
    throw invalidArgument(
      `spec.gpu_count: the learning-rate finder runs on one GPU (fastai's LRFinder reloads its weights in every rank); ${task.$case === 'lrFind' ? 'set gpu_count 1' : 'set a fixed lr, or gpu_count 1'}`,
    );
  }
}

async function checkVision(t: VisionTask, at: string, ctx: SpecContext, training: boolean): Promise<void> {
  if (!t.data)
    throw invalidArgument(
      `${at}.data: required (an uploaded dataset, an agent path, a URL or a fastai URLs name)`,
    );
  const root = await resolveRef(t.data, `${at}.data`, ctx);
  if (!ARCH.test(t.arch)) throw invalidArgument(`${at}.arch: "${t.arch}" is not an architecture name`);
  if (training) checkEpochs(t.epochs, at);
  if (t.imageSize < 8 || t.imageSize > 4096) throw invalidArgument(`${at}.image_size: 8..4096 pixels`);
  if (t.batchSize > 65_536) throw invalidArgument(`${at}.batch_size: at most 65536`);
  checkValidPct(t.validPct, at);
  checkLr(t.lr, at);
  checkMetrics(t.metrics, at);
  if (t.fitMethod === FitMethod.FIT_METHOD_FINE_TUNE && t.pretrained === false) {
    throw invalidArgument(
      `${at}.fit_method: fine_tune needs pretrained weights; use fit_one_cycle with pretrained off`,
    );
  }
  const labels = t.labels?.method;
  if (labels?.$case === 'fileNameRegex') {
    const pattern = labels.value.pattern;
    let groups = 0;
    try {
      // Python's named groups (?P<name>...) are JavaScript's (?<name>...); the rest is common syntax.
      groups = new RegExp(`${pattern.replaceAll('(?P<', '(?<')}|`).exec('')?.length ?? 1;
    } catch (error) {
      throw invalidArgument(
        `${at}.labels.file_name_regex.pattern: not a valid regular expression (${(error as Error).message})`,
      );
    }
    if (groups < 2)
      throw invalidArgument(`${at}.labels.file_name_regex.pattern: needs a capture group for the label`);
  } else if (labels?.$case === 'csv') {
    const c = labels.value;
    checkRelative(c.csvPath, `${at}.labels.csv.csv_path`);
    if (c.imageDir) checkRelative(c.imageDir, `${at}.labels.csv.image_dir`);
    if (root) {
      const header = await csvHeader(join(root, c.csvPath), `${at}.labels.csv.csv_path`);
      for (const [field, col] of [
        ['file_column', c.fileColumn],
        ['label_column', c.labelColumn],
        ['valid_column', c.validColumn],
      ] as const) {
        if (col && !header.includes(col)) {
          throw invalidArgument(
            `${at}.labels.csv.${field}: "${col}" is not in the CSV header (${header.join(', ')})`,
          );
        }
      }
    }
  } else if (labels?.$case === 'folder') {
    for (const [field, dir] of [
      ['train_dir', labels.value.trainDir],
      ['valid_dir', labels.value.validDir],
    ] as const) {
      if (!dir) continue;
      checkRelative(dir, `${at}.labels.folder.${field}`);
      if (root) await mustBeDir(join(root, dir), `${at}.labels.folder.${field}`);
    }
  }
}

async function checkTabular(t: TabularTask, at: string, ctx: SpecContext, training: boolean): Promise<void> {
  if (!t.data) throw invalidArgument(`${at}.data: required`);
  const root = await resolveRef(t.data, `${at}.data`, ctx);
  if (!t.csvPath) throw invalidArgument(`${at}.csv_path: required (the CSV inside the dataset)`);
  checkRelative(t.csvPath, `${at}.csv_path`);
  if (!t.target) throw invalidArgument(`${at}.target: required (the column to predict)`);
  if (training) checkEpochs(t.epochs, at);
  if (t.fitMethod === FitMethod.FIT_METHOD_FINE_TUNE)
    throw invalidArgument(`${at}.fit_method: fine_tune is for pretrained models`);
  if (t.layers.some((n) => n === 0 || n > 100_000))
    throw invalidArgument(`${at}.layers: sizes must be 1..100000`);
  if (t.batchSize > 1_000_000) throw invalidArgument(`${at}.batch_size: at most 1000000`);
  checkValidPct(t.validPct, at);
  checkLr(t.lr, at);
  checkMetrics(t.metrics, at);
  if (root) {
    const header = await csvHeader(join(root, t.csvPath), `${at}.csv_path`);
    const has = (col: string) => header.includes(col);
    if (!has(t.target))
      throw invalidArgument(`${at}.target: "${t.target}" is not in the CSV header (${header.join(', ')})`);
    for (const [field, cols] of [
      ['categorical_columns', t.categoricalColumns],
      ['continuous_columns', t.continuousColumns],
    ] as const) {
      for (const col of cols) {
        if (!has(col)) throw invalidArgument(`${at}.${field}: "${col}" is not in the CSV header`);
        if (col === t.target) throw invalidArgument(`${at}.${field}: "${col}" is the target`);
      }
    }
  }
}

function checkEpochs(epochs: number | undefined, at: string): void {
  if (epochs === undefined || epochs <= 0) throw invalidArgument(`${at}.epochs: must be at least 1`);
  if (epochs > 100_000) throw invalidArgument(`${at}.epochs: at most 100000`);
}

function checkValidPct(pct: number | undefined, at: string): void {
  if (pct !== undefined && !(pct > 0 && pct < 1))
    throw invalidArgument(`${at}.valid_pct: must be between 0 and 1 (exclusive)`);
}

function checkLr(lr: LearningRate | undefined, at: string): void {
  const v = lr?.value;
  if (v?.$case === 'fixed' && !(Number.isFinite(v.value) && v.value > 0)) {
    throw invalidArgument(`${at}.lr.fixed: must be a positive number`);
  }
  if (v?.$case === 'find' && !v.value)
    throw invalidArgument(`${at}.lr.find: set it to true, or leave lr unset`);
}

function checkMetrics(metrics: string[], at: string): void {
  for (const m of metrics) {
    if (!KNOWN_METRICS.has(m))
      throw invalidArgument(`${at}.metrics: unknown metric "${m}" (known: ${[...KNOWN_METRICS].join(', ')})`);
  }
}

function checkRelative(path: string, at: string): void {
  const reason = unsafePathReason(path);
  if (reason) throw invalidArgument(`${at} "${path}": ${reason}`);
}

/**
 * The local folder a DatasetRef points at (with its subdir), checked to exist; undefined for URL
 * sources, which the worker downloads itself.
 */
export async function resolveRef(ref: DatasetRef, at: string, ctx: SpecContext): Promise<string | undefined> {
  const source = ref.source;
  if (!source) throw invalidArgument(`${at}: set one of dataset_id, agent_path, url, fastai_url`);
  if (ref.subdir) checkRelative(ref.subdir, `${at}.subdir`);
  let root: string | undefined;
  switch (source.$case) {
    case 'datasetId':
      root = await ctx.datasetDir(source.value);
      break;
    case 'agentPath':
      if (!isAbsolute(source.value))
        throw invalidArgument(`${at}.agent_path: must be absolute on the agent's machine`);
      root = source.value;
      break;
    case 'url':
      if (!/^https?:\/\/[^\s]+$/.test(source.value))
        throw invalidArgument(`${at}.url: must be an http(s) URL`);
      return undefined;
    case 'fastaiUrl':
      if (!/^[A-Z][A-Z0-9_]*$/.test(source.value)) {
        throw invalidArgument(`${at}.fastai_url: a fastai URLs name such as "MNIST_SAMPLE" or "PETS"`);
      }
      return undefined;
  }
  const dir = ref.subdir ? join(root, ref.subdir) : root;
  await mustBeDir(dir, at, source.$case === 'agentPath');
  return dir;
}

async function mustBeDir(path: string, at: string, agentPath = false): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s)
    throw notFound(
      `${at}: ${agentPath ? path : 'the folder'} does not exist${agentPath ? " on the agent's machine" : ''}`,
    );
  if (!s.isDirectory()) throw invalidArgument(`${at}: not a folder`);
}

async function mustBeFile(path: string, at: string): Promise<void> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw notFound(`${at}: the file does not exist in the dataset`);
  if (!s.isFile()) throw invalidArgument(`${at}: not a file`);
}

/** The column names of a CSV file's first line (simple quoting, as pandas writes it). */
async function csvHeader(path: string, at: string): Promise<string[]> {
  await mustBeFile(path, at);
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const first = buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0] ?? '';
    return first.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  } finally {
    await handle.close();
  }
}

/** The dataset a task reads (the one its worker envelope names as dataDir). */
export function mainDataRef(spec: JobSpec): DatasetRef | undefined {
  const task = spec.task;
  switch (task?.$case) {
    case 'vision':
    case 'tabular':
      return task.value.data;
    case 'lrFind':
      return task.value.setup?.value.data;
    case 'script':
      return task.value.data;
    case 'predict':
      return task.value.inputs;
    default:
      return undefined;
  }
}

/** The uploaded datasets a spec reads (dataset_id of any DatasetRef in it: data, workspace, inputs). */
export function datasetIdsOf(spec: JobSpec): string[] {
  const ids = new Set<string>();
  const visit = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const source = (value as { source?: { $case?: string; value?: unknown } }).source;
    if (source?.$case === 'datasetId' && typeof source.value === 'string') ids.add(source.value);
    for (const child of Object.values(value)) visit(child);
  };
  visit(spec.task);
  return [...ids];
}
