import { GpulinkError } from './errors.js';

/**
 * A parsed agent URL: `gpulink://<token>@<host>:<port>[?fp=<sha256hex>]`, or
 * `gpulink+wss://<token>@<host>[:<port>]/<path>[?fp=<sha256hex>]` for an agent behind an HTTP tunnel.
 *
 * @example
 * ```ts
 * import { parseAgentUrl } from '@gpulink/sdk';
 * const { host, port, transport } = parseAgentUrl('gpulink://s3cret@127.0.0.1:7860');
 * // host '127.0.0.1', port 7860, transport 'grpc'
 * ```
 */
export interface AgentUrl {
  /** `'grpc'`: gRPC straight over TCP (`gpulink://`); `'wss'`: gRPC carried in a WebSocket (`gpulink+wss://`). */
  transport: 'grpc' | 'wss';
  /** The bearer token, percent-decoded. */
  token: string;
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
  /** For `'wss'`: the WebSocket path, e.g. `'/grpc'`. Always `'/'` for `'grpc'`. */
  path: string;
  /**
   * SHA-256 fingerprint of the agent's TLS certificate, 64 lowercase hex digits, when the URL pins one
   * (`?fp=`). Its presence means the agent speaks TLS.
   */
  fingerprint: string | undefined;
}

const schemes: Record<string, AgentUrl['transport']> = { 'gpulink:': 'grpc', 'gpulink+wss:': 'wss' };
const knownParams = ['fp'];
const shape = 'gpulink://<token>@<host>:<port>[?fp=<sha256hex>]';

function refuse(url: string, problem: string): GpulinkError {
  return new GpulinkError(
    'INVALID_ARGUMENT',
    `bad agent URL ${redactToken(url)}: ${problem}; expected ${shape}`,
  );
}

/** Hides the token (the user part) of anything that looks like a URL, for messages and logs. */
function redactToken(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
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
  if (parsed.port !== '') port = Number(parsed.port);
  else if (transport === 'wss') port = 443;
  else throw refuse(input, 'the port is missing');
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw refuse(input, `port ${parsed.port} is out of range`);
  const path = parsed.pathname === '' ? '/' : parsed.pathname;
  if (transport === 'grpc' && path !== '/')
    throw refuse(input, `gpulink:// URLs have no path, got '${path}'`);
  if (parsed.hash !== '') throw refuse(input, "it has a '#' fragment");
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
  return { transport, token, host, port, path, fingerprint };
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
  const scheme = url.transport === 'wss' ? 'gpulink+wss' : 'gpulink';
  const token = options.redactToken ? '***' : encodeURIComponent(url.token);
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const port = url.transport === 'wss' && url.port === 443 ? '' : `:${url.port}`;
  const path = url.transport === 'wss' && url.path !== '/' ? url.path : '';
  const fp = url.fingerprint ? `?fp=${url.fingerprint}` : '';
  return `${scheme}://${token}@${host}${port}${path}${fp}`;
}

/** `host:port` as grpc-js wants its target, with IPv6 hosts bracketed. @internal */
export function grpcTarget(url: AgentUrl): string {
  return `${url.host.includes(':') ? `[${url.host}]` : url.host}:${url.port}`;
}
