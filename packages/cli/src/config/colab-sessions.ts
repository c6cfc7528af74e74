// The session file of Google's Colab CLI (google-colab-cli, src/colab_cli/state.py): a JSON object from
// session name to {name, token, url, endpoint, token_expires_at, variant, accelerator, machine_shape,
// kernel_id, session_id, last_execution, running}, written by that CLI and only read here. It finds the
// file with os.path.expanduser('~/.config/colab-cli/sessions.json'), so HOME places it, not
// XDG_CONFIG_HOME.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** One session of the Colab CLI: an assigned runtime and how to reach it through Colab's runtime proxy. */
export interface ColabSession {
  name: string;
  /** The runtime-proxy token (`token`). */
  token: string;
  /** The runtime's Jupyter server at Colab's runtime proxy (`url`). */
  url: string;
  /** The assignment's id at Colab (`endpoint`). */
  endpoint: string;
  /** When the token stops working (`token_expires_at`); `undefined` when the file does not say. */
  tokenExpiresAt: Date | undefined;
  /** `T4`, `L4`, `A100`, `H100`, or `NONE` for a CPU runtime (`accelerator`). */
  accelerator: string;
}

/** Where the Colab CLI keeps its sessions. */
export function colabSessionsPath(): string {
  return join(homedir(), '.config', 'colab-cli', 'sessions.json');
}

// The Colab CLI refreshes a token that has five minutes or less left (common.py, TOKEN_REFRESH_MARGIN),
// so that it does not expire mid-command; gpulink holds the same margin.
const refreshMarginMs = 5 * 60_000;

/** Whether the session's token must be refreshed before use, by the Colab CLI's own rule. */
export function tokenNeedsRefresh(session: ColabSession, now = Date.now()): boolean {
  return session.tokenExpiresAt === undefined || session.tokenExpiresAt.getTime() - now <= refreshMarginMs;
}

interface SessionRecord {
  name?: unknown;
  token?: unknown;
  url?: unknown;
  endpoint?: unknown;
  token_expires_at?: unknown;
  accelerator?: unknown;
}

function sessionOf(key: string, record: SessionRecord): ColabSession | undefined {
  const { token, url, endpoint } = record;
  if (typeof token !== 'string' || typeof url !== 'string' || typeof endpoint !== 'string') return undefined;
  // pydantic writes an aware datetime as ISO 8601 (`...Z` or `+00:00`).
  const expires = typeof record.token_expires_at === 'string' ? new Date(record.token_expires_at) : undefined;
  return {
    name: typeof record.name === 'string' ? record.name : key,
    token,
    url,
    endpoint,
    tokenExpiresAt: expires && !Number.isNaN(expires.getTime()) ? expires : undefined,
    accelerator: typeof record.accelerator === 'string' ? record.accelerator : 'NONE',
  };
}

/** The Colab CLI's session `name`, or `undefined` when it has none. */
export async function readColabSession(name: string): Promise<ColabSession | undefined> {
  let text: string;
  try {
    text = await readFile(colabSessionsPath(), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${colabSessionsPath()}: ${(error as Error).message}`);
  }
  // The Colab CLI itself reads an empty or unreadable file as no sessions.
  if (text.trim() === '') return undefined;
  let data: Record<string, SessionRecord>;
  try {
    data = JSON.parse(text) as Record<string, SessionRecord>;
  } catch {
    return undefined;
  }
  const record = data[name];
  return record && typeof record === 'object' ? sessionOf(name, record) : undefined;
}
