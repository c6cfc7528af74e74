import { GpulinkError } from './errors.js';

/**
 * A parsed agent URL: `gpulink://<token>@<host>:<port>[?fp=<sha256hex>]`,
 * `gpulink+wss://<token>@<host>[:<port>]/<path>[?fp=<sha256hex>]` for an agent behind an HTTP tunnel, or
 * `gpulink+jupyter://<token>@<host>:<port>/<base>?fp=<sha256hex>&agent_port=<port>[&jupyter_token=...]`
 * (`gpulink+jupyters://` for HTTPS) for an agent reached through a Jupyter server's kernel, as
 * `gpulink attach` writes it: host, port and path are the Jupyter server's, `agent_port` the agent's
 * port on that host's loopback.
 *
 * @example
 * ```ts
 * import { parseAgentUrl } from '@gpulink/sdk';
 * const { host, port, transport } = parseAgentUrl('gpulink://s3cret@127.0.0.1:7860');
 * // host '127.0.0.1', port 7860, transport 'grpc'
 * ```
 */
export interface AgentUrl {
  /**
   * `'grpc'`: gRPC straight over TCP (`gpulink://`); `'wss'`: gRPC carried in a WebSocket (`gpulink+wss://`);
   * `'jupyter'`: gRPC carried by a relay in a Jupyter kernel (`gpulink+jupyter://`, `gpulink+jupyters://`).
   */
  transport: 'grpc' | 'wss' | 'jupyter';
  /** The bearer token, percent-decoded. */
  token: string;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** For `'wss'`: the WebSocket path, e.g. `'/grpc'`; for `'jupyter'` the server's base path. Always `'/'` for `'grpc'`. */
  path: string;
  /**
   * SHA-256 fingerprint of the agent's TLS certificate, 64 lowercase hex digits, when the URL pins one
   * (`?fp=`). Its presence means the agent speaks TLS.
   */
  fingerprint: string | undefined;
  /** For `'jupyter'`: how to reach the agent through the Jupyter server. */
  jupyter?: JupyterRoute;
}

/** The Jupyter part of a `gpulink+jupyter://` URL. */
export interface JupyterRoute {
  /** HTTPS (`gpulink+jupyters://`). */
  secure: boolean;
  /** The agent's port on the Jupyter host's loopback (`agent_port`). */
  agentPort: number;
  /** The Jupyter server's token (`jupyter_token`), '' when it has none. */
  token: string;
  /** `'colab'`: the token is a Colab runtime-proxy token, sent as Colab's CLI sends it (`auth=colab`). */
  auth: 'token' | 'colab';
  /** The kernel spec of gpulink's dedicated kernel (`kernel`). @default 'python3' */
  kernel: string | undefined;
  /** The Colab CLI session this runtime belongs to (`colab_session`), so its token can be refreshed. */
  colabSession: string | undefined;
}

const schemes: Record<string, AgentUrl['transport']> = {
  'gpulink:': 'grpc',
  'gpulink+wss:': 'wss',
  'gpulink+jupyter:': 'jupyter',
  'gpulink+jupyters:': 'jupyter',
};
const jupyterParams = ['agent_port', 'jupyter_token', 'auth', 'kernel', 'colab_session'];
const shape = 'gpulink://<token>@<host>:<port>[?fp=<sha256hex>]';

function refuse(url: string, problem: string): GpulinkError {
  return new GpulinkError(
    'INVALID_ARGUMENT',
    `bad agent URL ${redactToken(url)}: ${problem}; expected ${shape}`,
  );
}

/** Hides the token (the user part) of anything that looks like a URL, for messages and logs. */
function redactToken(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@')
    .replace(/([?&]jupyter_token=)[^&#]*/i, '$1***');
}

/**
 * Parses and checks an agent URL, throwing an `INVALID_ARGUMENT` {@link GpulinkError} that says what is
 * wrong (never echoing the token). It accepts every form the agent prints, including the TLS
 * fingerprint (`?fp=`, with or without `:` between byte pairs) and the `gpulink+wss://` scheme, even
 * though {@link connect} does not dial those yet.
 *
 * @example
 * ```ts
 * import { parseAgentUrl } from '@gpulink/sdk';
 * const url = parseAgentUrl(process.env.GPULINK_URL ?? '');
 * console.log(`agent at ${url.host}:${url.port}${url.fingerprint ? ' (TLS pinned)' : ''}`);
 * ```
 */
export function parseAgentUrl(url: string): AgentUrl {
  const input = url.trim();
  if (input === '') throw refuse(input, 'it is empty');
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(input)?.[1]?.toLowerCase();
  if (scheme === undefined) throw refuse(input, 'it has no scheme');
  const transport = schemes[`${scheme}:`];
  if (transport === undefined) {
    const hint = /^(https?|grpcs?|wss?)$/.test(scheme) ? ` (use the gpulink:// URL the agent printed)` : '';
    throw refuse(input, `unknown scheme '${scheme}:'${hint}`);
  }
  let parsed: URL;
  try {
    parsed = new URL(input);
  } catch {
    throw refuse(input, 'it is not a valid URL');
  }
  if (parsed.password !== '') throw refuse(input, "the token goes before '@' without a ':'");
  let token: string;
  try {
    token = decodeURIComponent(parsed.username);
  } catch {
    throw refuse(input, 'the token is not valid percent-encoding');
  }
  if (token === '') throw refuse(input, "the token is missing (it goes before '@')");
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw refuse(input, 'the host is missing');
  let port: number;
  const secure = scheme === 'gpulink+wss' || scheme === 'gpulink+jupyters';
  if (parsed.port !== '') port = Number(parsed.port);
  else if (secure) port = 443;
  else if (transport === 'jupyter') port = 80;
  else throw refuse(input, 'the port is missing');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw refuse(input, `port ${parsed.port} is out of range`);
  const path = parsed.pathname === '' ? '/' : parsed.pathname;
  if (transport === 'grpc' && path !== '/')
    throw refuse(input, `gpulink:// URLs have no path, got '${path}'`);
  if (parsed.hash !== '') throw refuse(input, "it has a '#' fragment");
  const knownParams = transport === 'jupyter' ? ['fp', ...jupyterParams] : ['fp'];
  for (const key of parsed.searchParams.keys()) {
    if (!knownParams.includes(key))
      throw refuse(input, `unknown parameter '${key}' (known: ${knownParams.join(', ')})`);
  }
  const fps = parsed.searchParams.getAll('fp');
  if (fps.length > 1) throw refuse(input, "'fp' is given more than once");
  let fingerprint: string | undefined;
  if (fps[0] !== undefined) {
    fingerprint = fps[0].replaceAll(':', '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(fingerprint)) {
      throw refuse(input, "'fp' must be a SHA-256 fingerprint: 64 hex digits, optionally ':'-separated");
    }
  }
  if (transport !== 'jupyter') return { transport, token, host, port, path, fingerprint };
  const param = (name: string) => parsed.searchParams.get(name) ?? undefined;
  const agentPort = Number(param('agent_port'));
  if (!Number.isInteger(agentPort) || agentPort < 1 || agentPort > 65535) {
    throw refuse(input, "'agent_port' (the agent's port on the Jupyter host) is missing or out of range");
  }
  const auth = param('auth') ?? 'token';
  if (auth !== 'token' && auth !== 'colab')
    throw refuse(input, `'auth' is 'token' or 'colab', got '${auth}'`);
  const jupyter: JupyterRoute = {
    secure,
    agentPort,
    token: param('jupyter_token') ?? '',
    auth,
    kernel: param('kernel'),
    colabSession: param('colab_session'),
  };
  return { transport, token, host, port, path: path.endsWith('/') ? path : `${path}/`, fingerprint, jupyter };
}

/**
 * Writes an {@link AgentUrl} back as a string that {@link parseAgentUrl} reads; `redactToken: true`
 * replaces the token with `***` for display.
 *
 * @example
 * ```ts
 * import { formatAgentUrl, parseAgentUrl } from '@gpulink/sdk';
 * const url = parseAgentUrl('gpulink://s3cret@127.0.0.1:7860');
 * formatAgentUrl(url, { redactToken: true }); // 'gpulink://***@127.0.0.1:7860'
 * ```
 */
export function formatAgentUrl(url: AgentUrl, options: { redactToken?: boolean } = {}): string {
  const { jupyter } = url;
  const scheme = jupyter
    ? jupyter.secure
      ? 'gpulink+jupyters'
      : 'gpulink+jupyter'
    : url.transport === 'wss'
      ? 'gpulink+wss'
      : 'gpulink';
  const token = options.redactToken ? '***' : encodeURIComponent(url.token);
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const defaultPort = jupyter ? (jupyter.secure ? 443 : 80) : url.transport === 'wss' ? 443 : undefined;
  const port = url.port === defaultPort ? '' : `:${url.port}`;
  const path = url.transport !== 'grpc' && url.path !== '/' ? url.path : '';
  const params = new URLSearchParams();
  if (url.fingerprint) params.set('fp', url.fingerprint);
  if (jupyter) {
    params.set('agent_port', String(jupyter.agentPort));
    if (jupyter.token !== '') params.set('jupyter_token', options.redactToken ? '***' : jupyter.token);
    if (jupyter.auth !== 'token') params.set('auth', jupyter.auth);
    if (jupyter.kernel) params.set('kernel', jupyter.kernel);
    if (jupyter.colabSession) params.set('colab_session', jupyter.colabSession);
  }
  const query = params.size > 0 ? `?${params.toString().replaceAll('%2A', '*')}` : '';
  return `${scheme}://${token}@${host}${port}${path}${query}`;
}

/** `host:port` as grpc-js wants its target, with IPv6 hosts bracketed. @internal */
export function grpcTarget(url: AgentUrl): string {
  return `${url.host.includes(':') ? `[${url.host}]` : url.host}:${url.port}`;
}
