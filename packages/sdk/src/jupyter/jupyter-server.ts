// A Jupyter server as gpulink uses it: its REST API and kernel WebSocket through Jupyter's own client
// (@jupyterlab/services, given Node's fetch and `ws`), authenticated with a Jupyter token or with a
// Colab runtime-proxy token sent the way Google's Colab CLI sends it.
import {
  KernelConnection,
  type KernelMessage,
  ServerConnection,
  type Session,
  SessionAPI,
} from '@jupyterlab/services';
import { type ClientOptions, WebSocket } from 'ws';
import type { AgentUrl } from '../agent-url.js';
import { GpulinkError } from '../errors.js';
import { quietJupyterClient } from './quiet-console.js';

/** How the token reaches the server: Jupyter's own `token`, or Colab's runtime proxy. */
export type JupyterAuth = 'token' | 'colab';

/** A Jupyter server to reach. */
export interface JupyterServer {
  /** `http(s)://host:port/base/`, ending in `/`, without the token. */
  baseUrl: string;
  /** The server's token ('' when it has none). */
  token: string;
  /** @default 'token' */
  auth?: JupyterAuth;
}

// Colab's runtime proxy takes its token as this query parameter and header (google-colab-cli,
// src/colab_cli/runtime.py), and names the client in X-Colab-Client-Agent.
const colabTokenParam = 'colab-runtime-proxy-token';

function withAuthParams(url: string, server: JupyterServer): string {
  if (server.auth !== 'colab' || server.token === '') return url;
  const u = new URL(url);
  u.searchParams.set(colabTokenParam, server.token);
  u.searchParams.set('authuser', '0');
  return u.toString();
}

function authHeaders(server: JupyterServer): Record<string, string> {
  if (server.token === '') return {};
  if (server.auth === 'colab') {
    return { 'X-Colab-Runtime-Proxy-Token': server.token, 'X-Colab-Client-Agent': 'gpulink' };
  }
  return { Authorization: `token ${server.token}` };
}

/**
 * The server settings @jupyterlab/services runs on: fetch and WebSocket with the token added. The
 * WebSocket answers every frame it receives with a pong: jupyter_server does not set TCP_NODELAY, so
 * without a segment going back each small reply waits for the client's delayed ACK (about 40 ms).
 */
export function serverSettings(server: JupyterServer): ServerConnection.ISettings {
  const headers = authHeaders(server);
  const fetchWithAuth = (input: string | URL | Request, init?: RequestInit) => {
    const request = new Request(input, init);
    const authed = new Request(withAuthParams(request.url, server), request);
    for (const [name, value] of Object.entries(headers)) authed.headers.set(name, value);
    return fetch(authed);
  };
  class AuthWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      const options: ClientOptions = { headers, perMessageDeflate: false };
      super(withAuthParams(url, server), protocols, options);
      this.on('message', () => {
        if (this.readyState === WebSocket.OPEN) this.pong();
      });
    }
  }
  return ServerConnection.makeSettings({
    baseUrl: server.baseUrl,
    wsUrl: server.baseUrl.replace(/^http/, 'ws'),
    token: server.auth === 'colab' ? '' : server.token,
    appendToken: server.auth !== 'colab',
    fetch: fetchWithAuth as typeof fetch,
    WebSocket: AuthWebSocket as unknown as typeof globalThis.WebSocket,
  });
}

/**
 * Parses what a host hands its user (`http://host:8888/lab?token=T`, `https://x.proxy.runpod.net/?token=T`,
 * a JupyterHub `https://hub/user/me/`) into a {@link JupyterServer}. A token given apart wins over the URL's.
 */
export function parseJupyterUrl(input: string, token?: string): JupyterServer {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      `not a Jupyter URL: '${input}' (expected http(s)://host:port/?token=...)`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new GpulinkError(
      'INVALID_ARGUMENT',
      `a Jupyter URL starts with http:// or https://, got '${url.protocol}'`,
    );
  }
  const fromUrl = url.searchParams.get('token') ?? '';
  // The page a user was shown (/lab, /tree, /notebooks/...) is not part of the server's base URL.
  const base = url.pathname
    .replace(/\/(lab|tree|notebooks|doc|edit|terminals)(\/.*)?$/, '/')
    .replace(/\/?$/, '/');
  return { baseUrl: `${url.protocol}//${url.host}${base}`, token: token ?? fromUrl };
}

/** The Jupyter server a `gpulink+jupyter://` URL goes through. */
export function jupyterServerOf(url: AgentUrl): JupyterServer {
  const { jupyter } = url;
  if (!jupyter) throw new GpulinkError('INVALID_ARGUMENT', 'not a gpulink+jupyter:// URL');
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  return {
    baseUrl: `${jupyter.secure ? 'https' : 'http'}://${host}:${url.port}${url.path}`,
    token: jupyter.token,
    auth: jupyter.auth,
  };
}

/** Where a server is, for messages: no token. */
export function describeServer(server: JupyterServer): string {
  return `the Jupyter server at ${server.baseUrl}`;
}

/** Checks that the server answers and takes the token; says plainly what is wrong otherwise. */
export async function checkServer(server: JupyterServer, timeoutMs = 20_000): Promise<void> {
  const settings = serverSettings(server);
  let response: Response;
  try {
    response = await settings.fetch(`${server.baseUrl}api/status`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new GpulinkError(
      'UNAVAILABLE',
      `cannot reach ${describeServer(server)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (response.status === 401 || response.status === 403) {
    throw new GpulinkError(
      'UNAUTHENTICATED',
      `${describeServer(server)} refused the token (HTTP ${response.status}): check the token in the URL, --token or JUPYTER_TOKEN`,
    );
  }
  if (!response.ok) {
    throw new GpulinkError(
      'UNAVAILABLE',
      `${describeServer(server)} answered HTTP ${response.status} to /api/status`,
    );
  }
  const body = (await response.json().catch(() => undefined)) as { started?: unknown } | undefined;
  if (body?.started === undefined) {
    throw new GpulinkError(
      'FAILED_PRECONDITION',
      `${server.baseUrl} does not look like a Jupyter server (no /api/status)`,
    );
  }
}

/**
 * The session path of gpulink's dedicated kernel of a kernel spec: every gpulink client of a server
 * shares it (jupyter_server answers a session for an existing path with that session, whatever kernel
 * it asks for, hence one path per spec). No folder in it, so the kernel runs in the server's root dir,
 * where the Contents API puts uploads.
 */
export function relaySessionPath(kernelName: string): string {
  return `gpulink-relay-${kernelName}`;
}

/**
 * Starts gpulink's dedicated kernel, or reuses it when it runs (jupyter_server answers a session for
 * an existing path with that session), and connects to it.
 */
export async function openDedicatedKernel(
  server: JupyterServer,
  kernelName = 'python3',
): Promise<KernelConnection> {
  const settings = serverSettings(server);
  let model: Session.IModel;
  try {
    model = await SessionAPI.startSession(
      { path: relaySessionPath(kernelName), name: 'gpulink', type: 'gpulink', kernel: { name: kernelName } },
      settings,
    );
  } catch (error) {
    throw new GpulinkError(
      'UNAVAILABLE',
      `cannot start a kernel on ${describeServer(server)}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (!model.kernel)
    throw new GpulinkError('UNAVAILABLE', `${describeServer(server)} gave the session no kernel`);
  quietJupyterClient();
  const kernel = new KernelConnection({ model: model.kernel, serverSettings: settings, handleComms: true });
  await waitConnected(kernel, server);
  return kernel;
}

async function waitConnected(
  kernel: KernelConnection,
  server: JupyterServer,
  timeoutMs = 60_000,
): Promise<void> {
  if (kernel.connectionStatus === 'connected') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      kernel.connectionStatusChanged.disconnect(onChange);
      reject(
        new GpulinkError('UNAVAILABLE', `the kernel WebSocket of ${describeServer(server)} did not open`),
      );
    }, timeoutMs);
    const onChange = (_: unknown, status: string) => {
      if (status !== 'connected') return;
      clearTimeout(timer);
      kernel.connectionStatusChanged.disconnect(onChange);
      resolve();
    };
    kernel.connectionStatusChanged.connect(onChange);
  });
}

/** What {@link runPython} collected. */
export interface PythonRun {
  stdout: string;
  stderr: string;
}

/**
 * Runs Python code in the kernel and returns its output; a Python exception becomes a
 * `FAILED_PRECONDITION` error carrying the traceback's last line.
 */
export async function runPython(
  kernel: KernelConnection,
  code: string,
  options: { onStdout?: (text: string) => void } = {},
): Promise<PythonRun> {
  const out: string[] = [];
  const err: string[] = [];
  const future = kernel.requestExecute({ code, silent: false, store_history: false, stop_on_error: true });
  let failure: string | undefined;
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    if (msg.header.msg_type === 'stream') {
      const { name, text } = msg.content as KernelMessage.IStreamMsg['content'];
      if (name === 'stdout') {
        out.push(text);
        options.onStdout?.(text);
      } else err.push(text);
    } else if (msg.header.msg_type === 'error') {
      const { ename, evalue } = msg.content as KernelMessage.IErrorMsg['content'];
      failure = `${ename}: ${evalue}`;
    }
  };
  await future.done.catch(() => undefined);
  future.dispose();
  if (failure !== undefined) {
    throw new GpulinkError('FAILED_PRECONDITION', `code in the kernel failed: ${failure}`);
  }
  return { stdout: out.join(''), stderr: err.join('') };
}

/** Runs code whose last line of output is one JSON document, and returns that document. */
export async function runPythonForJson<T>(kernel: KernelConnection, code: string): Promise<T> {
  const { stdout } = await runPython(kernel, code);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new GpulinkError('INTERNAL', `the kernel printed no JSON answer: ${stdout.slice(-300)}`);
  }
}
