// The gpu-check's checks against a real agent started from the packed agent package, driven by the
// real SDK. pack.mjs bundles this file with the SDK into one, so it runs where there is no
// node_modules (a GPU machine without Node). scripts/gpu-check.mjs starts it; see there for modes.
//   node checks.mjs --mode gpu|dry --agent DIR --python PY --fixture CSV --direct-fit PY
//                   [--path-prefix DIR] [--report FILE] [--junit FILE]
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { connect } from '@gpulink/sdk';
import { fitChecks } from './fit.mjs';
import { must, Report } from './report.mjs';

const run = promisify(execFile);
const MIB = 1024 * 1024;
const { values: o } = parseArgs({
  options: Object.fromEntries(
    ['mode', 'agent', 'python', 'fixture', 'direct-fit', 'path-prefix', 'report', 'junit'].map((k) => [
      k,
      { type: 'string' },
    ]),
  ),
});
o.directFit = o['direct-fit'];
const gpu = o.mode === 'gpu';
// Dry mode puts the stand-in nvidia-smi first on PATH for the agent and for the raw query.
const env = { ...process.env, PATH: [o['path-prefix'], process.env.PATH].filter(Boolean).join(':') };
const agentBin = join(o.agent, 'dist', 'bin.js');
const workerPath = {
  ...process.env,
  PYTHONPATH: [join(o.agent, 'python'), process.env.PYTHONPATH].filter(Boolean).join(':'),
};

/** `gpulink-agent serve` from the package; resolves once it printed where it listens. */
async function startAgent(stateDir) {
  const child = spawn(
    process.execPath,
    [agentBin, 'serve', '--json', '--port', '0', '--state-dir', stateDir, '--python', o.python],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    },
  );
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) =>
      reject(new Error(`the agent exited (${code}) before it was ready: ${stderr}`)),
    );
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  return { url: JSON.parse(line).localUrl, stop };
}

/** Events of a job to its end: the last state, the error event's failure. */
async function follow(job) {
  let state = '';
  let failure;
  for await (const e of job.events()) {
    if (e.type === 'state') state = e.state;
    else if (e.type === 'error') failure = e.error;
  }
  return { state, failure };
}

async function nvidiaSmiChecks(report, agent) {
  const S = 'nvidia-smi: the sampler';
  const { GPU_QUERY_FIELDS: fields } = await import(pathToFileURL(join(o.agent, 'dist', 'index.js')).href);
  let names = [];
  await report.check(S, 'the stats stream parses what nvidia-smi prints', async () => {
    const query = [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'];
    const raw = (await run('nvidia-smi', query, { env, timeout: 30_000 })).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    const fixture = (await readFile(o.fixture, 'utf8')).trim().split('\n')[0] ?? '';
    report.note(
      S,
      [...raw.map((r) => `nvidia-smi  ${r}`), `stand-in    ${fixture}  (${basename(o.fixture)})`].join('\n'),
    );
    const cols = (line) => line.split(',').map((s) => s.trim());
    must(raw.length > 0, 'nvidia-smi printed no GPU row');
    must(
      cols(fixture).length === fields.length,
      `the stand-in's rows have ${cols(fixture).length} columns; the query asks ${fields.length}`,
    );
    let sample;
    for await (const s of agent.stats({ intervalMs: 500, timeoutMs: 30_000 })) {
      sample = s;
      if (s.gpus.length > 0) break;
    }
    must(
      sample?.gpus.length === raw.length,
      `the stats stream has ${sample?.gpus.length ?? 0} GPU(s), nvidia-smi ${raw.length}`,
    );
    const seen = [];
    for (const [i, line] of raw.entries()) {
      const c = cols(line);
      must(c.length >= fields.length, `row ${i} has ${c.length} columns, not ${fields.length}: ${line}`);
      const name = c.slice(2, c.length - (fields.length - 3)).join(', ');
      const g = sample.gpus[i];
      const total = Math.round(Number(c[3]) * MIB);
      must(
        g.index === Number(c[0]) && g.uuid === c[1] && g.name === name && g.memoryTotalBytes === total,
        `GPU ${i}: the stream says ${g.index} ${g.uuid} ${g.name} ${g.memoryTotalBytes} B; nvidia-smi ${c[0]} ${c[1]} ${name} ${total} B`,
      );
      const n = (v, unit) => (v === undefined ? 'n/a' : `${v}${unit}`);
      seen.push(
        `${g.index} ${g.name}: ${(g.memoryUsedBytes / MIB).toFixed(0)}/${(g.memoryTotalBytes / MIB).toFixed(0)} MiB, ` +
          `util ${n(g.utilizationGpuPercent, '%')}, ${n(g.temperatureCelsius, ' C')}, ${n(g.powerDrawWatts, ' W')}` +
          ` of ${n(g.powerLimitWatts, ' W')}, SM ${n(g.clockSmMhz, ' MHz')}, memory ${n(g.clockMemoryMhz, ' MHz')}`,
      );
    }
    names = sample.gpus.map((g) => g.name);
    return `${raw.length} GPU(s)${gpu ? '' : ' (the stand-in: the real nvidia-smi only on a GPU machine)'}\n${seen.join('\n')}`;
  });
  return names;
}

async function doctorAndInfo(report, agent, stateDir, smiNames) {
  const S = 'doctor and info';
  await report.check(S, '`gpulink-agent doctor`', async () => {
    // Dry mode's doctor sees no stand-in: one that claims GPUs torch cannot use is a failure it names.
    const doctorEnv = gpu ? env : process.env;
    const args = [agentBin, 'doctor', '--json', '--python', o.python, '--state-dir', stateDir];
    const out = await run(process.execPath, args, { env: doctorEnv, timeout: 120_000 }).catch((e) => e);
    const checks = String(out.stdout ?? '')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    report.note(
      S,
      checks
        .map((c) => `${c.status.replace('CHECK_STATUS_', '').padEnd(4)}  ${c.title}: ${c.detail}`)
        .join('\n'),
    );
    const failing = checks.filter((c) => c.status === 'CHECK_STATUS_FAIL').map((c) => `${c.id}: ${c.detail}`);
    must(checks.length > 0, `doctor printed no check: ${out.stderr ?? out.message}`);
    must(failing.length === 0, `failing checks: ${failing.join('; ')}`);
    const cuda = checks.find((c) => c.id === 'cuda');
    const want = gpu ? 'CHECK_STATUS_OK' : 'CHECK_STATUS_WARN';
    must(
      cuda?.status === want,
      `the cuda check is ${cuda?.status ?? 'missing'}, not ${want}: ${cuda?.detail}`,
    );
    return `${checks.length} checks, none failing; cuda: ${cuda.detail}`;
  });
  await report.check(S, 'GetInfo (`gpulink info`)', async () => {
    const info = await agent.getInfo();
    const gpus = info.gpus.map(
      (g) =>
        `${g.index} ${g.name} ${(g.memoryTotalBytes / 2 ** 30).toFixed(1)} GiB compute ${g.computeCapability}`,
    );
    report.note(
      S,
      [
        `agent ${info.agentVersion} on ${info.hostname} (${info.platform}), Python ${info.pythonVersion} (${info.pythonExecutable})`,
        `torch ${info.torchVersion}, fastai ${info.fastaiVersion}, CUDA ${info.cudaVersion ?? '-'}, cuDNN ${info.cudnnVersion ?? '-'}`,
        `cuda available: ${info.cudaAvailable}, cuDNN enabled: ${info.cudnnEnabled}; GPUs: ${gpus.join('; ') || 'none'}`,
      ].join('\n'),
    );
    must(!info.environmentError, `the agent could not inspect its Python: ${info.environmentError}`);
    const code = 'import importlib.metadata as m; print(m.version("torch"), m.version("fastai"))';
    const [torch, fastai] = (await run(o.python, ['-c', code])).stdout.trim().split(' ');
    // GetInfo has torch.__version__ ("2.11.0+cu130"), the package metadata the release alone.
    must(
      info.torchVersion?.split('+')[0] === torch && info.fastaiVersion === fastai,
      `GetInfo says torch ${info.torchVersion}, fastai ${info.fastaiVersion}; the Python has ${torch}, ${fastai}`,
    );
    if (gpu) {
      must(info.cudaAvailable && info.gpus.length > 0, 'torch sees no GPU');
      must(
        info.gpus.map((g) => g.name).join() === smiNames.join(),
        `GPUs ${info.gpus.map((g) => g.name)} differ from nvidia-smi's ${smiNames}`,
      );
    } else {
      must(!info.cudaAvailable && info.gpus.length === 0, 'a GPU on a dry run: run without --dry-run');
    }
    return `torch ${torch}, fastai ${fastai}, ${info.gpus.length} GPU(s)`;
  });
}

// Fills the GPU in 4 GiB blocks (plain allocations through torch's caching allocator) until one is
// refused. On the CPU it asks for more than any address space holds, which fails at once.
const OOM_SCRIPT = `import torch
print("gpu-check: allocating until the device is full", flush=True)
held = []
if torch.cuda.is_available():
    while True:
        held.append(torch.empty(4 << 30, dtype=torch.uint8, device="cuda"))
else:
    torch.empty(1 << 62, dtype=torch.uint8)
`;

async function oomChecks(report, agent, work) {
  const S = 'out of GPU memory on purpose';
  const dir = join(work, 'oom');
  await run('mkdir', ['-p', dir]);
  await writeFile(join(dir, 'oom.py'), OOM_SCRIPT);
  let failure;
  await report.check(S, 'the job ends FAILED with a post-mortem', async () => {
    const { dataset } = await agent.datasets.upload(dir);
    const job = await agent.runScript({
      workspace: { datasetId: dataset.id },
      entrypoint: 'oom.py',
      name: 'gpu-check oom',
      maxDurationMs: 180_000,
    });
    const end = await follow(job);
    failure = end.failure;
    must(end.state === 'failed', `the job ended ${end.state}`);
    must(failure, 'no error event');
    const { stats, logs } = failure.postMortem;
    must(stats.length > 0, 'the post-mortem has no stats sample');
    must(
      logs.some((l) => l.text.includes('gpu-check: allocating')),
      "the post-mortem's log lines miss the script's",
    );
    return `${failure.kind}: ${failure.message}\npost-mortem: ${stats.length} stats samples, ${logs.length} log lines; peak CUDA ${(failure.peakCudaMemoryBytes / 2 ** 30).toFixed(1)} GiB`;
  });
  if (gpu) {
    await report.check(S, 'the failure names the OOM', () => {
      must(failure?.kind === 'cudaOutOfMemory', `kind ${failure?.kind}: ${failure?.message}`);
      must(/CUDA out of memory/.test(failure.message), `message: ${failure.message}`);
      return failure.message;
    });
  } else {
    await report.check(S, 'a CPU allocation failure is not called a CUDA OOM', () => {
      must(failure?.kind === 'exception', `kind ${failure?.kind}: ${failure?.message}`);
      return `${failure.exceptionType}`;
    });
    report.skip(S, 'the failure names the OOM', 'GPU only: only CUDA runs out of GPU memory');
  }
}

/**
 * A vision fit on every GPU (issue #14): one rank per GPU under accelerate launch. Each event once
 * (from rank 0), gathered metrics, and the job's stats samples showing every GPU at work.
 */
async function multiGpuChecks(report, agent, datasetId) {
  const S = 'several GPUs';
  const info = await agent.getInfo();
  if (info.gpus.length < 2) {
    report.skip(S, 'a job on every GPU', `skipped: ${info.gpus.length} GPU`);
    return;
  }
  if (!info.capabilities.includes('job.multi_gpu')) {
    report.skip(S, 'a job on every GPU', `skipped: this agent does not advertise job.multi_gpu`);
    return;
  }
  const n = info.gpus.length;
  const epochs = 3;
  const events = [];
  await report.check(S, `a vision fit on all ${n} GPUs succeeds, each event once`, async () => {
    const job = await agent.trainVision({
      name: 'gpu-check multi-gpu',
      data: { datasetId },
      labels: { folder: { trainDir: 'train' } },
      pretrained: false,
      fitMethod: 'fit_one_cycle',
      arch: 'resnet50',
      imageSize: 224,
      batchSize: 64,
      lr: 0.01,
      epochs,
      gpus: 'all',
      maxDurationMs: 300_000,
    });
    for await (const e of job.events()) events.push(e);
    const end = events.filter((e) => e.type === 'state').at(-1)?.state;
    const error = events.find((e) => e.type === 'error')?.error;
    must(end === 'succeeded', `the job ended ${end}: ${error?.message ?? ''}`);
    const fits = events.filter((e) => e.type === 'fitStarted').length;
    const ended = events.filter((e) => e.type === 'epochEnded');
    must(fits === 1, `${fits} fitStarted events (one per rank would be ${n})`);
    must(ended.length === epochs, `${ended.length} epochEnded events for ${epochs} epochs`);
    const last = ended.at(-1);
    return `${n} ranks; last epoch: ${JSON.stringify(last?.metrics ?? last)}`;
  });
  await report.check(S, "the job's stats samples show every GPU in use", () => {
    const samples = events.filter((e) => e.type === 'stats').map((e) => e.sample);
    must(samples.length > 0, 'no stats sample in the job log');
    const peak = Array.from({ length: n }, (_, i) =>
      Math.max(...samples.map((s) => s.gpus[i]?.memoryUsedBytes ?? 0)),
    );
    must(
      peak.every((b) => b > 512 * 2 ** 20),
      `GPU memory used per GPU (MiB): ${peak.map((b) => Math.round(b / 2 ** 20))}`,
    );
    return `peak memory per GPU (MiB): ${peak.map((b) => Math.round(b / 2 ** 20)).join(', ')}`;
  });
}

/** On the CPU the fit only has to train, in seconds on shared cores: a few images of each digit. */
const DRY_IMAGES_PER_CLASS = 20;

async function keepPerClass(trainDir, keep) {
  for (const label of await readdir(trainDir)) {
    const files = (await readdir(join(trainDir, label))).sort();
    await Promise.all(files.slice(keep).map((f) => rm(join(trainDir, label, f))));
  }
}

async function main() {
  const report = new Report(
    `gpulink gpu-check (${gpu ? 'GPU' : 'dry run: CPU and the stand-in nvidia-smi'}), ${new Date().toISOString()}`,
  );
  const work = await mkdtemp(join(tmpdir(), 'gpulink-gpu-check-'));
  let started;
  let agent;
  try {
    started = await startAgent(join(work, 'state'));
    agent = await connect(started.url);
    const smiNames = await nvidiaSmiChecks(report, agent);
    await doctorAndInfo(report, agent, join(work, 'state'), smiNames);
    const dataDir = join(work, 'digits');
    await run(o.python, ['-m', 'gpulink_worker.sample_data', 'digits', dataDir, '--size', '28'], {
      env: workerPath,
    });
    if (!gpu) await keepPerClass(join(dataDir, 'train'), DRY_IMAGES_PER_CLASS);
    const { dataset } = await agent.datasets.upload(dataDir);
    await fitChecks(report, { agent, datasetId: dataset.id, dataDir, o, gpu });
    await oomChecks(report, agent, work);
    await multiGpuChecks(report, agent, dataset.id);
  } catch (error) {
    // What stopped the run is a failure of its own, so the report (and CI's count) shows it.
    await report.check('set-up', 'the run reached its end', () => {
      throw error;
    });
  } finally {
    await agent?.close();
    await started?.stop();
    await rm(work, { recursive: true, force: true });
  }
  const text = report.text();
  process.stdout.write(text);
  if (o.report) await writeFile(o.report, text);
  if (o.junit) await writeFile(o.junit, report.junit());
  process.exitCode = report.failed ? 1 : 0;
}

await main();
