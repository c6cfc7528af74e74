// What the gpu-check carries to a machine that may have no Node, no internet and only a Python with
// torch: the agent package (scripts/pack-agent.mjs), the checks bundled with the SDK into one file,
// this machine's Node binary gzipped, and wheels of what the worker needs beyond such a Python.
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The agent's self-contained npm tarball, written into `out`; returns its path. */
export function packAgent(out) {
  const printed = execFileSync(process.execPath, [join(root, 'scripts', 'pack-agent.mjs'), '--out', out], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return printed.toString().trim().split('\n').at(-1);
}

/** checks.mjs with the SDK and its dependencies in one ESM file, `out`/checks.mjs. */
export async function bundleChecks(out) {
  const { build } = await import('tsup');
  await build({
    config: false,
    entry: { checks: join(root, 'scripts', 'gpu-check', 'checks.mjs') },
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    noExternal: [/.*/],
    outDir: out,
    outExtension: () => ({ js: '.mjs' }),
    splitting: false,
    silent: true,
    // grpc-js and ws are CommonJS: their require() of Node's modules needs a require in ESM.
    banner: {
      js: "import { createRequire as gpuCheckRequire } from 'node:module'; const require = gpuCheckRequire(import.meta.url);",
    },
  });
  return join(out, 'checks.mjs');
}

/** The Node running this, gzipped into `out`/node.gz (the machine there needs the same OS and CPU). */
export async function packNode(out) {
  const dest = join(out, 'node.gz');
  await pipeline(createReadStream(process.execPath), createGzip({ level: 6 }), createWriteStream(dest));
  return dest;
}

/**
 * What the worker needs (requirements.txt's closure) beyond a Python that ships torch, torchvision,
 * timm (so huggingface_hub and safetensors), pandas, scikit-learn, matplotlib, requests and pyyaml,
 * as GPU images and Colab do: fastai, fast.ai's own packages, the HTML stack fastprogress imports, and
 * accelerate with psutil (jobs on several GPUs run under `accelerate launch`). spaCy (fastai.text
 * only) stays out. Versions are the worker's virtualenv's, i.e. requirements.txt's pins.
 */
export const DEVICE_WHEELS = [
  'accelerate',
  'psutil',
  'fastai',
  'fastcore',
  'fastdownload',
  'fastprogress',
  'fasttransform',
  'plum-dispatch',
  'beartype',
  'python-fasthtml',
  'starlette',
  'uvicorn',
  'httpx2',
  'httpcore2',
  'itsdangerous',
  'oauthlib',
  'python-multipart',
  'beautifulsoup4',
  'soupsieve',
  'truststore',
];

/** Wheels of DEVICE_WHEELS for CPython `pythonVersion` on x86-64 Linux, into `out`/wheels. */
export function downloadWheels(out, venvPython, pythonVersion) {
  const code = `import importlib.metadata as m, sys; print(" ".join(f"{n}=={m.version(n)}" for n in sys.argv[1:]))`;
  const pins = execFileSync(venvPython, ['-c', code, ...DEVICE_WHEELS])
    .toString()
    .trim()
    .split(' ');
  const dir = join(out, 'wheels');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const platforms = ['manylinux_2_28_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64'];
  execFileSync(
    venvPython,
    [
      ...['-m', 'pip', 'download', '-q', '--no-deps', '--only-binary=:all:', '--implementation', 'cp'],
      ...['--python-version', pythonVersion, ...platforms.flatMap((p) => ['--platform', p]), '-d', dir],
      ...pins,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  return pins;
}

/** Bytes under `dir`, every file counted. */
export function sizeOf(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (e.isFile()) total += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return total;
}
