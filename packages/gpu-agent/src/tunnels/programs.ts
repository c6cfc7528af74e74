// The tunnel programs the agent can drive, and how to read each one's output. Each program prints its
// public address in its own format; these parsers are the only place that knows those formats.
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export const TUNNEL_KINDS = ['bore', 'cloudflared', 'ngrok'] as const;
export type TunnelKind = (typeof TUNNEL_KINDS)[number];

/**
 * Where clients reach the agent through a tunnel. `grpc`: a raw TCP relay (bore, an ngrok TCP
 * endpoint) that carries the agent's TLS as is; `wss`: an HTTPS edge (cloudflared, ngrok HTTP) that
 * carries it inside a WebSocket.
 */
export interface PublicAddress {
  transport: 'grpc' | 'wss';
  host: string;
  port: number;
}

/** What one line of a tunnel program's output says, if anything. */
export interface LineReading {
  /** The tunnel is up and reachable here. */
  address?: PublicAddress;
  /** An error the program reported: kept to explain an exit. */
  problem?: string;
}

/** What the agent needs to know to run one tunnel program. */
export interface TunnelProgram {
  kind: TunnelKind;
  /**
   * Arguments for one run. `previous` is the address of the run before and `failures` the number of
   * runs in a row that died; bore asks for the previous address again.
   */
  args(previous: PublicAddress | undefined, failures: number): string[];
  /** What a restart does to the public address, for the message that announces it. */
  restartNote: string;
  /** A fresh reader for one run's output lines (some formats span several lines). */
  reader(): (line: string) => LineReading;
  /** Said when the program cannot start, e.g. how to give ngrok its authtoken. */
  hint?: string;
}

/** ANSI colour codes, which bore's logger writes even into a pipe when NO_COLOR is not honoured. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point
const ANSI = /\u001b\[[0-9;]*m/g;

export const stripAnsi = (line: string): string => line.replace(ANSI, '');

/** Restarts of bore in a row that keep asking for the old port before it takes any port (about 90 s). */
const BORE_SAME_PORT_TRIES = 8;

/**
 * bore: `bore local PORT --to SERVER [--port REMOTE]` logs `listening at HOST:PORT` once the relay
 * server has given it a port. Asking for the previous port again keeps the agent's URL valid after a
 * restart; the relay frees a dead client's port within a heartbeat or two (about a second), so the
 * first tries may be refused with "port already in use". When someone else has taken the port for
 * good, bore takes any port and the agent prints a new URL.
 */
export function boreProgram(o: {
  localHost: string;
  localPort: number;
  server: string;
  remotePort?: number;
}): TunnelProgram {
  return {
    kind: 'bore',
    restartNote: 'asking the relay for the same port, so the URL stays valid',
    args(previous, failures) {
      const port = previous && failures <= BORE_SAME_PORT_TRIES ? previous.port : o.remotePort;
      return [
        'local',
        String(o.localPort),
        // bore's default, `localhost`, may resolve to ::1 while the agent listens on 127.0.0.1.
        '--local-host',
        o.localHost,
        '--to',
        o.server,
        ...(port ? ['--port', String(port)] : []),
      ];
    },
    reader: () => (raw) => {
      const line = stripAnsi(raw);
      const listening = /\blistening at ([^\s:]+):(\d+)/.exec(line);
      if (listening?.[1] && listening[2]) {
        return { address: { transport: 'grpc', host: listening[1], port: Number(listening[2]) } };
      }
      const error = /^Error: (.+)/.exec(line.trim());
      return error?.[1] ? { problem: error[1] } : {};
    },
    hint: 'bore needs its relay server reachable on TCP port 7835 (BORE_SECRET is passed on when the server wants one)',
  };
}

/**
 * cloudflared quick tunnel: prints `https://<words>.trycloudflare.com` in a banner, then
 * `Registered tunnel connection` once the edge can route to it; the address is only usable after that.
 */
export function cloudflaredProgram(o: { webSocketPort: number }): TunnelProgram {
  return {
    kind: 'cloudflared',
    restartNote: 'a quick tunnel comes back under a new name, so the agent prints a new URL',
    args: () => ['tunnel', '--no-autoupdate', '--url', `http://127.0.0.1:${o.webSocketPort}`],
    reader() {
      let host: string | undefined;
      return (raw) => {
        const line = stripAnsi(raw);
        const url = /https:\/\/([a-z0-9-]+\.trycloudflare\.com)\b/i.exec(line);
        if (url?.[1]) host = url[1].toLowerCase();
        if (host && /Registered tunnel connection/i.test(line)) {
          return { address: { transport: 'wss', host, port: 443 } };
        }
        const error = /\s(?:ERR|FTL)\s+(.+)/.exec(line);
        return error?.[1] ? { problem: error[1].trim() } : {};
      };
    },
  };
}

/**
 * ngrok v3 with `--log stdout --log-format json`: one JSON object per line; the public URL comes in
 * `{"msg":"started tunnel","url":...}`. `http` mode forwards to the WebSocket endpoint (any ngrok
 * account); `tcp` mode to the gRPC port (ngrok asks for a card on file for TCP endpoints).
 */
export function ngrokProgram(o: {
  mode: 'http' | 'tcp';
  grpcHost: string;
  grpcPort: number;
  webSocketPort: number;
}): TunnelProgram {
  const target =
    o.mode === 'http'
      ? ['http', `http://127.0.0.1:${o.webSocketPort}`]
      : ['tcp', `${o.grpcHost}:${o.grpcPort}`];
  return {
    kind: 'ngrok',
    restartNote: 'ngrok may hand out a new address, in which case the agent prints a new URL',
    args: () => [...target, '--log', 'stdout', '--log-format', 'json'],
    reader: () => (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return {};
      }
      if (entry.msg === 'started tunnel' && typeof entry.url === 'string') {
        const address = parseNgrokUrl(entry.url);
        if (address) return { address };
      }
      const err = typeof entry.err === 'string' && entry.err !== '<nil>' ? entry.err : undefined;
      if (err || entry.lvl === 'eror' || entry.lvl === 'crit') {
        return { problem: [entry.msg, err].filter(Boolean).join(': ') };
      }
      return {};
    },
    hint: 'ngrok needs an authtoken: set NGROK_AUTHTOKEN (from dashboard.ngrok.com) or run `ngrok config add-authtoken TOKEN`',
  };
}

function parseNgrokUrl(url: string): PublicAddress | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol === 'https:') return { transport: 'wss', host: parsed.hostname, port: 443 };
  if (parsed.protocol === 'tcp:' && parsed.port) {
    return { transport: 'grpc', host: parsed.hostname, port: Number(parsed.port) };
  }
  return undefined;
}

/**
 * The program's path: from PATH first (what the user installed themselves), then from `binDir`,
 * where `gpulink-agent setup --tunnel NAME` puts it. Throws a message that says how to get it.
 */
export async function findTunnelProgram(kind: TunnelKind, binDir: string): Promise<string> {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), binDir];
  for (const dir of dirs) {
    const candidate = join(dir, kind);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(
    `--tunnel ${kind}: the ${kind} program is neither on PATH nor in ${binDir}; run \`gpulink-agent setup --tunnel ${kind}\` to download it, or install it yourself`,
  );
}
