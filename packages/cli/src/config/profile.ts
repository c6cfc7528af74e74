import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from '../cli-error.js';

/** Where the CLI keeps its profile: `$XDG_CONFIG_HOME/gpulink`, else `~/.config/gpulink`. */
export function configDir(): string {
  return join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'gpulink');
}

/** Where the CLI keeps data: `$XDG_DATA_HOME/gpulink`, else `~/.local/share/gpulink`. */
export function dataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'gpulink');
}

/** Where the embedded agent keeps its state and log: `$XDG_DATA_HOME/gpulink/local-agent`. */
export function localAgentDir(): string {
  return join(dataDir(), 'local-agent');
}

/**
 * One saved agent (a context). `local` is set when the agent was started by `gpulink up`; `attached`
 * when `gpulink attach` started it on a Jupyter host (its state dir there, for `detach`).
 */
export interface Profile {
  url: string;
  local?: { pid: number; stateDir: string; logFile: string } | undefined;
  attached?: { server: string; stateDir: string; colabSession?: string | undefined } | undefined;
}

/**
 * profile.json (mode 0600: it holds tokens): named agents and the current one, as kubectl's contexts.
 * A file from before contexts holds one Profile; it reads as that one context, current, and is
 * written in this form at the next change.
 */
interface ContextsFile {
  current: string | undefined;
  contexts: Record<string, Profile>;
}

/** A saved agent as the dashboard and `context ls` show it. */
export interface ContextEntry {
  name: string;
  url: string;
  current: boolean;
  kind: 'local' | 'attached' | 'remote';
}

const profilePath = () => join(configDir(), 'profile.json');

/** The context named by `--context` for this run, over the file's current one. */
let selected: string | undefined;

/** Makes `name` the context of this run only (`gpulink --context NAME ...`); the file is unchanged. */
export function selectContext(name: string | undefined): void {
  selected = name;
}

/** The name an agent is saved under unless one is given: local, colab-<session>, attach-<host>, or its host. */
export function defaultContextName(profile: Profile): string {
  if (profile.local) return 'local';
  if (profile.attached?.colabSession) return `colab-${profile.attached.colabSession}`;
  if (profile.attached) return `attach-${hostOf(profile.attached.server)}`;
  return hostOf(profile.url);
}

function hostOf(url: string): string {
  try {
    const { hostname, port } = new URL(url);
    return port ? `${hostname}-${port}` : hostname || 'agent';
  } catch {
    return 'agent';
  }
}

async function readContexts(): Promise<ContextsFile> {
  let text: string;
  try {
    text = await readFile(profilePath(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { current: undefined, contexts: {} };
    throw new Error(`cannot read ${profilePath()}: ${(error as Error).message}`);
  }
  try {
    const json = JSON.parse(text) as Partial<ContextsFile> & Partial<Profile>;
    if (typeof json.url === 'string') {
      const name = defaultContextName(json as Profile);
      return { current: name, contexts: { [name]: json as Profile } };
    }
    return { current: json.current, contexts: json.contexts ?? {} };
  } catch (error) {
    throw new Error(`cannot read ${profilePath()}: ${(error as Error).message}`);
  }
}

async function writeContexts(file: ContextsFile): Promise<void> {
  const path = profilePath();
  // Nothing saved is no file, as before the first `up` or `connect`.
  if (Object.keys(file.contexts).length === 0) return rm(path, { force: true });
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
}

function unknownContext(name: string, file: ContextsFile): CliError {
  const names = Object.keys(file.contexts);
  return new CliError(
    `no context '${name}'${names.length ? `: the saved ones are ${names.join(', ')}` : ': none is saved yet'} (gpulink context ls)`,
  );
}

/** The context this run uses: `--context`, else the current one; undefined when none is saved. */
export async function currentContext(): Promise<{ name: string; profile: Profile } | undefined> {
  const file = await readContexts();
  const name = selected ?? file.current;
  if (name === undefined) return undefined;
  const profile = file.contexts[name];
  if (!profile) {
    if (selected) throw unknownContext(name, file);
    return undefined;
  }
  return { name, profile };
}

/** The agent of the context this run uses (see currentContext). */
export async function readProfile(): Promise<Profile | undefined> {
  return (await currentContext())?.profile;
}

/**
 * Saves an agent as the context `name` (default: defaultContextName) and makes it current, unless
 * `makeCurrent` is false. Returns the name.
 */
export async function writeProfile(
  profile: Profile,
  name = defaultContextName(profile),
  options: { makeCurrent?: boolean } = {},
): Promise<string> {
  const file = await readContexts();
  file.contexts[name] = profile;
  if (options.makeCurrent !== false) file.current = name;
  await writeContexts(file);
  return name;
}

/** Forgets the context this run uses (`detach`, `colab down`). */
export async function clearProfile(): Promise<void> {
  const current = await currentContext();
  if (current) await removeContexts([current.name]);
}

/** Forgets contexts by name; NOT_FOUND-like error naming the saved ones for an unknown name. */
export async function removeContexts(names: readonly string[]): Promise<void> {
  const file = await readContexts();
  for (const name of names) {
    if (!file.contexts[name]) throw unknownContext(name, file);
    delete file.contexts[name];
    if (file.current === name) file.current = undefined;
  }
  await writeContexts(file);
}

/** Forgets every context whose agent `match` picks (the local agent's, after `gpulink down`). */
export async function removeContextsWhere(match: (profile: Profile) => boolean): Promise<string[]> {
  const file = await readContexts();
  const names = Object.keys(file.contexts).filter((n) => match(file.contexts[n] as Profile));
  if (names.length > 0) await removeContexts(names);
  return names;
}

/** The first saved context whose agent `match` picks, in name order. */
export async function findContext(
  match: (profile: Profile) => boolean,
): Promise<{ name: string; profile: Profile } | undefined> {
  const file = await readContexts();
  const name = Object.keys(file.contexts)
    .sort()
    .find((n) => match(file.contexts[n] as Profile));
  return name === undefined ? undefined : { name, profile: file.contexts[name] as Profile };
}

/** Makes a saved context the current one. */
export async function useContext(name: string): Promise<Profile> {
  const file = await readContexts();
  const profile = file.contexts[name];
  if (!profile) throw unknownContext(name, file);
  file.current = name;
  await writeContexts(file);
  return profile;
}

/**
 * Every saved agent with its URL (tokens included: redact before showing), the current one marked,
 * in name order. For `gpulink context ls` and for a dashboard that shows several agents.
 */
export async function listContexts(): Promise<ContextEntry[]> {
  const file = await readContexts();
  const current = selected ?? file.current;
  return Object.entries(file.contexts)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([name, p]) => ({
      name,
      url: p.url,
      current: name === current,
      kind: p.local ? 'local' : p.attached ? 'attached' : 'remote',
    }));
}

/** The agent URL to use: --url, then --context, then GPULINK_URL, then the current context. */
export async function resolveAgentUrl(flag: string | undefined): Promise<string | undefined> {
  if (flag) return flag;
  if (selected) return (await currentContext())?.profile.url;
  return process.env.GPULINK_URL || (await readProfile())?.url;
}

/** An agent URL with its tokens replaced (the agent's, and a Jupyter server's), for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]+@/, '//***@').replace(/([?&]jupyter_token=)[^&#]*/, '$1***');
}
