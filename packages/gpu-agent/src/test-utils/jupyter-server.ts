// A real Jupyter server (jupyter_server + ipykernel from PyPI) for the tests of the kernel transport and
// `gpulink attach`: on a loopback port with a token, with a HOME of its own so the agents that attach
// starts there and their state stay inside the test's folder. It stands for a Jupyter host (a GPU box,
// RunPod, a JupyterHub user server); its kernels run the given Python.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestJupyterServer {
  /** `http://127.0.0.1:PORT/` */
  readonly baseUrl: string;
  /** What a host shows its user: `http://127.0.0.1:PORT/lab?token=...` */
  readonly url: string;
  readonly token: string;
  readonly port: number;
  /** The server's HOME: `~` of the kernels and of the agents they start. */
  readonly home: string;
  /** The server's root dir (where the Contents API puts files). */
  readonly root: string;
  /** The server's log so far. */
  log(): Promise<string>;
  /** Stops the server, and every agent that `attach` started under its HOME. */
  stop(): Promise<void>;
}

export interface TestJupyterServerOptions {
  /** The Python with jupyter_server and ipykernel; its kernels run it too. */
  python: string;
  /** Extra environment of the server (and so of its kernels), e.g. a PATH without node. */
  env?: NodeJS.ProcessEnv;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === 'object' && address ? address.port : 0;
}

/** Fails with a clear message when the Python lacks jupyter_server or ipykernel. */
export async function checkJupyterPython(python: string): Promise<void> {
  await promisify(execFile)(python, ['-c', 'import jupyter_server, ipykernel']).catch(() => {
    throw new Error(
      `${python} has no jupyter_server/ipykernel: pip install -r packages/gpu-agent/python/requirements-dev.txt (npm test does)`,
    );
  });
}

export async function startJupyterServer(options: TestJupyterServerOptions): Promise<TestJupyterServer> {
  await checkJupyterPython(options.python);
  const home = await mkdtemp(join(tmpdir(), 'gpulink-jupyter-'));
  const root = join(home, 'root');
  const token = randomBytes(16).toString('hex');
  const port = await freePort();
  const logFile = join(home, 'server.log');
  await mkdir(root, { recursive: true });
  const out = await open(logFile, 'w');
  const child: ChildProcess = spawn(
    options.python,
    [
      '-m',
      'jupyter_server',
      '--allow-root',
      '--no-browser',
      '--ServerApp.ip=127.0.0.1',
      `--ServerApp.port=${port}`,
      '--ServerApp.port_retries=0',
      `--ServerApp.root_dir=${root}`,
      `--IdentityProvider.token=${token}`,
    ],
    {
      cwd: root,
      detached: true,
      stdio: ['ignore', out.fd, out.fd],
      env: {
        ...process.env,
        HOME: home,
        JUPYTER_CONFIG_DIR: join(home, '.jupyter'),
        JUPYTER_DATA_DIR: join(home, '.local', 'share', 'jupyter'),
        JUPYTER_RUNTIME_DIR: join(home, '.local', 'share', 'jupyter', 'runtime'),
        XDG_DATA_HOME: join(home, '.local', 'share'),
        ...options.env,
      },
    },
  );
  await out.close();
  const baseUrl = `http://127.0.0.1:${port}/`;
  const log = () => readFile(logFile, 'utf8').catch(() => '');
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${baseUrl}api/status`, { headers: { Authorization: `token ${token}` } })
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`the Jupyter server did not start: ${(await log()).slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  const stopAgents = async () => {
    // attach records its agent in <state dir>/attach.json; the default state dir is under HOME.
    const found = await promisify(execFile)('find', [home, '-name', 'attach.json']).catch(() => ({
      stdout: '',
    }));
    for (const path of found.stdout.split('\n').filter(Boolean)) {
      const record = JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as { pid?: number };
      if (record.pid) {
        try {
          process.kill(-record.pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
    }
  };

  return {
    baseUrl,
    url: `${baseUrl}lab?token=${token}`,
    token,
    port,
    home,
    root,
    log,
    async stop() {
      await stopAgents();
      if (child.exitCode === null && child.pid) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        process.kill(-child.pid, 'SIGTERM');
        const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await rm(home, { recursive: true, force: true });
    },
  };
}
