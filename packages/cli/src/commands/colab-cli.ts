// Google's Colab CLI (google-colab-cli on PyPI), driven as a separate program: it signs in, assigns and
// releases runtimes and refreshes their runtime-proxy tokens; gpulink only runs it and reads the session
// file it writes. Found on PATH, else in a tool venv of gpulink's own, where `gpulink colab up` installs
// it with pip when it is missing.
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { formatAgentUrl, parseAgentUrl, parseJupyterUrl } from '@gpulink/sdk';
import { CliError } from '../cli-error.js';
import {
  type ColabSession,
  colabSessionsPath,
  readColabSession,
  tokenNeedsRefresh,
} from '../config/colab-sessions.js';
import { dataDir } from '../config/profile.js';

/** Where `gpulink colab up` installs Google's CLI when it is not on PATH. */
export function colabToolVenv(): string {
  return join(dataDir(), 'colab-cli');
}

// The session file and `colab status` behave as 0.7.x's do (state.py, common.py): a newer minor may not.
const colabRequirement = 'google-colab-cli>=0.7.5,<0.8';
const minPython: [number, number] = [3, 12];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

async function pythonVersion(python: string): Promise<[number, number] | undefined> {
  try {
    const { stdout } = await promisify(execFile)(python, ['-c', 'import sys; print(*sys.version_info[:2])'], {
      timeout: 15_000,
    });
    const [major, minor] = stdout.trim().split(' ').map(Number);
    return major !== undefined && minor !== undefined ? [major, minor] : undefined;
  } catch {
    // Not there, or a pyenv shim for a version that is not active.
    return undefined;
  }
}

const recentEnough = ([major, minor]: [number, number]) =>
  major > minPython[0] || (major === minPython[0] && minor >= minPython[1]);

/** A Python new enough for google-colab-cli: on PATH, else one of pyenv's versions (newest first). */
async function findPython(): Promise<string | undefined> {
  for (const name of ['python3.13', 'python3.12', 'python3.14', 'python3']) {
    const version = await pythonVersion(name);
    if (version && recentEnough(version)) return name;
  }
  const versions = join(process.env.PYENV_ROOT || join(homedir(), '.pyenv'), 'versions');
  if (!existsSync(versions)) return undefined;
  const installed = readdirSync(versions)
    .map((name) => ({ name, parts: name.split('.').map(Number) }))
    .filter(({ parts }) => parts.length === 3 && parts.every(Number.isInteger))
    .sort((a, b) => (b.parts[0] ?? 0) - (a.parts[0] ?? 0) || (b.parts[1] ?? 0) - (a.parts[1] ?? 0));
  for (const { name, parts } of installed) {
    const python = join(versions, name, 'bin', 'python3');
    if (recentEnough([parts[0] ?? 0, parts[1] ?? 0]) && isExecutable(python)) return python;
  }
  return undefined;
}

/**
 * Runs a program with its output on this process's stderr (stdout stays for --json) and the terminal
 * as its stdin: Google's sign-in may ask there. It shares the terminal's process group, so Ctrl-C
 * reaches it as it reaches gpulink.
 */
function runVisibly(program: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['inherit', 2, 2] });
    child.once('error', (error) => reject(new CliError(`cannot run ${what}: ${error.message}`)));
    child.once('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new CliError(`${what} failed (${signal ?? `exit ${code}`}); its messages are above`));
    });
  });
}

async function installColabCli(say: (message: string) => void): Promise<string> {
  const venv = colabToolVenv();
  const python = await findPython();
  if (!python) {
    throw new CliError(
      `Google's Colab CLI is not installed, and installing it needs Python ${minPython.join('.')} or newer, which this machine does not have (looked for python3.13, python3.12, python3 and pyenv's versions). Install such a Python, or install google-colab-cli yourself (pipx install google-colab-cli) so that colab is on PATH`,
    );
  }
  say(`Google's Colab CLI (colab) is not on PATH: installing ${colabRequirement} with pip into ${venv}`);
  await runVisibly(python, ['-m', 'venv', venv], `${python} -m venv ${venv}`);
  const venvPython = join(venv, 'bin', 'python');
  await runVisibly(
    venvPython,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', colabRequirement],
    `pip install ${colabRequirement}`,
  );
  const colab = join(venv, 'bin', 'colab');
  if (!isExecutable(colab)) throw new CliError(`pip installed google-colab-cli, but ${colab} is not there`);
  return colab;
}

/**
 * The `colab` executable: PATH first, then gpulink's tool venv; with `install`, pip installs it into that
 * venv when neither has it.
 */
export async function findColabCli(options: {
  install: boolean;
  say: (message: string) => void;
}): Promise<string> {
  const found = onPath('colab');
  if (found) return found;
  const inVenv = join(colabToolVenv(), 'bin', 'colab');
  if (isExecutable(inVenv)) return inVenv;
  if (!options.install) {
    throw new CliError(
      `Google's Colab CLI (colab) is neither on PATH nor in ${colabToolVenv()}: gpulink colab up installs it`,
    );
  }
  return installColabCli(options.say);
}

/** Runs `colab ARGS...`; its messages (sign-in included) go to stderr. */
export function runColab(colab: string, args: string[]): Promise<void> {
  return runVisibly(colab, args, `colab ${args.join(' ')}`);
}

/**
 * Refreshes a session's runtime-proxy token the way the Colab CLI does it itself: `colab status` lists
 * the account's assignments, writes each local session's fresh token and URL to its session file and
 * drops the sessions Colab no longer has. `undefined` when Colab no longer has this one.
 */
export async function refreshColabSession(
  colab: string,
  name: string,
  say: (message: string) => void,
): Promise<ColabSession | undefined> {
  say(`refreshing the runtime-proxy token of the Colab session '${name}' (colab status -s ${name})`);
  await runColab(colab, ['status', '-s', name]);
  return readColabSession(name);
}

/** A `gpulink+jupyter://` URL with the Jupyter part pointed at the session's current URL and token. */
function throughSession(agentUrl: string, session: ColabSession): string {
  const parsed = parseAgentUrl(agentUrl);
  const base = new URL(parseJupyterUrl(session.url).baseUrl);
  const secure = base.protocol === 'https:';
  if (!parsed.jupyter) return agentUrl;
  return formatAgentUrl({
    ...parsed,
    host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: base.port === '' ? (secure ? 443 : 80) : Number(base.port),
    path: base.pathname,
    jupyter: { ...parsed.jupyter, secure, token: session.token },
  });
}

/** The Colab session an agent URL names (`colab_session=`), if any. */
export function colabSessionOf(agentUrl: string): string | undefined {
  try {
    return parseAgentUrl(agentUrl).jupyter?.colabSession;
  } catch {
    return undefined;
  }
}

/**
 * For an agent URL that names a Colab session: the URL with that session's current token, refreshed
 * through the Colab CLI when it is about to expire (or at once with `force`, after the runtime proxy
 * refused it). Any other URL comes back as it is.
 */
export async function withFreshColabToken(
  agentUrl: string,
  options: { force?: boolean; say: (message: string) => void },
): Promise<string> {
  const name = colabSessionOf(agentUrl);
  if (name === undefined) return agentUrl;
  let session = await readColabSession(name);
  if (session && (options.force || tokenNeedsRefresh(session))) {
    const colab = await findColabCli({ install: false, say: options.say });
    session = await refreshColabSession(colab, name, options.say);
  }
  if (!session) {
    throw new CliError(
      `the Colab session '${name}' is gone (stopped or recycled; not in ${colabSessionsPath()}): gpulink colab up --name ${name} starts a new one`,
    );
  }
  return throughSession(agentUrl, session);
}
