// `gpulink-agent serve`: the agent itself, until SIGINT or SIGTERM. Prints one line when ready:
// `GPULINK_URL=<url>`, or with --json one object that also says where it listens.
import { type Command, Option } from 'commander';
import { startAgent } from '../agent.js';
import type { TunnelSettings } from '../tunnels/exposure.js';
import { TUNNEL_KINDS, type TunnelKind } from '../tunnels/programs.js';
import {
  EXIT_USAGE,
  jsonOption,
  portNumber,
  pythonOption,
  seconds,
  stateDirOption,
  wholeNumber,
} from './options.js';

interface ServeOptions {
  port: number;
  host?: string;
  stateDir: string;
  python: string;
  tokenFile?: string;
  warmWorkers: number;
  tls?: boolean;
  wsPort?: number;
  fullDiskWaitS: number;
  json?: boolean;
  tunnel: 'none' | TunnelKind;
  tunnelServer?: string;
  tunnelPort?: number;
  ngrokTcp?: boolean;
}

const DETAILS = `
TLS: beyond loopback, with a tunnel or with --ws-port (or --tls) the agent speaks TLS with a
self-signed certificate kept in the state dir; its SHA-256 goes into the URL (?fp=) and clients pin it.

Tunnels (the program comes from PATH, else from the state dir's bin/: see setup --tunnel):
  bore         relays raw TCP through --tunnel-server (default bore.pub); the URL stays the same when
               bore is restarted (--tunnel-port picks the port).
  cloudflared  a quick tunnel at https://<name>.trycloudflare.com, no account; clients dial
               gpulink+wss://, gRPC in a WebSocket.
  ngrok        an ngrok HTTPS endpoint (gpulink+wss://); needs NGROK_AUTHTOKEN or
               \`ngrok config add-authtoken\`. --ngrok-tcp: a TCP endpoint instead.

Stops gracefully on SIGINT/SIGTERM: running jobs get 10 s to wind down.

Example:
  gpulink-agent serve --state-dir /content/drive/MyDrive/gpulink --tunnel cloudflared
`;

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the agent; prints GPULINK_URL=gpulink://<token>@<host>:<port> when ready')
    .addOption(
      new Option('--port <n>', 'port to listen on (0: an ephemeral one)').argParser(portNumber).default(0),
    )
    .option('--host <addr>', 'address to listen on (default: 127.0.0.1)')
    .addOption(stateDirOption())
    .addOption(pythonOption())
    .option('--token-file <file>', 'read the bearer token from this file (default: kept in the state dir)')
    .addOption(
      new Option('--warm-workers <n>', 'workers kept started ahead, torch already imported')
        .argParser(wholeNumber(0, 8))
        .default(1),
    )
    .option('--tls', 'TLS even on loopback')
    .addOption(
      new Option(
        '--ws-port <n>',
        'also serve the WebSocket endpoint (path /gpulink) for a reverse proxy of your own',
      ).argParser(portNumber),
    )
    .addOption(
      new Option(
        '--full-disk-wait-s <s>',
        "when the state dir's disk fills, how long a running job's log waits for space before the job is stopped",
      )
        .argParser(seconds)
        .default(30),
    )
    .addOption(jsonOption())
    .addOption(
      new Option('--tunnel <kind>', 'make the agent reachable from anywhere through this tunnel')
        .choices(['none', ...TUNNEL_KINDS])
        .default('none'),
    )
    .option('--tunnel-server <host>', 'bore: the relay server (default: bore.pub)')
    .addOption(new Option('--tunnel-port <n>', 'bore: the remote port to ask for').argParser(portNumber))
    .option('--ngrok-tcp', 'ngrok: a TCP endpoint instead of HTTPS + WebSocket')
    .addHelpText('after', DETAILS)
    .action(async (o: ServeOptions, command: Command) => {
      await serve(
        o,
        tunnelSettings(o, (message) => command.error(`error: ${message}`, { exitCode: EXIT_USAGE })),
      );
    });
}

async function serve(o: ServeOptions, tunnel: TunnelSettings | undefined): Promise<void> {
  const announce = (url: string, changed: boolean) => {
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ ...ready(), url, ...(changed ? { changed } : {}) })}\n`);
    } else {
      process.stdout.write(`GPULINK_URL=${url}\n`);
    }
  };
  const agent = await startAgent({
    stateDir: o.stateDir,
    host: o.host,
    port: o.port,
    python: o.python,
    tokenFile: o.tokenFile,
    warmWorkers: o.warmWorkers,
    tls: o.tls ?? false,
    webSocketPort: o.wsPort,
    fullDiskRetryMs: o.fullDiskWaitS * 1000,
    standInGpus: standInGpus(),
    tunnel,
    onUrlChange: (url) => {
      process.stderr.write('gpulink-agent: the tunnel came back at a new address; use the new URL below\n');
      announce(url, true);
    },
  });
  const ready = () => ({
    url: agent.url,
    localUrl: agent.localUrl,
    host: agent.host,
    port: agent.port,
    fingerprint: agent.fingerprint ?? null,
    webSocketPort: agent.webSocketPort ?? null,
    tunnel: tunnel?.kind ?? null,
    pid: process.pid,
    stateDir: agent.stateDir,
  });
  // Listening for the signals before printing the URL: whoever reads the line may stop the agent at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`gpulink-agent: ${signal}: stopping (jobs get 10 s to wind down)\n`);
      agent.stop(10_000).then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  announce(agent.url, false);
  await stopped;
}

/** The tunnel flags that belong together; `usage` reports the ones that do not (and does not return). */
function tunnelSettings(o: ServeOptions, usage: (message: string) => never): TunnelSettings | undefined {
  if (o.tunnel === 'none') {
    if (o.tunnelServer !== undefined || o.tunnelPort !== undefined || o.ngrokTcp)
      usage('--tunnel-server, --tunnel-port and --ngrok-tcp need --tunnel');
    return undefined;
  }
  if (o.tunnelServer !== undefined && o.tunnel !== 'bore') usage('--tunnel-server is for bore');
  if (o.tunnelPort !== undefined && o.tunnel !== 'bore') usage('--tunnel-port is for bore');
  if (o.ngrokTcp && o.tunnel !== 'ngrok') usage('--ngrok-tcp is for ngrok');
  return { kind: o.tunnel, server: o.tunnelServer, remotePort: o.tunnelPort, ngrokTcp: o.ngrokTcp ?? false };
}

/**
 * Tests only: GPULINK_STAND_IN_GPUS=N makes the agent count N GPUs, run as CPU processes, where no
 * GPU can exist (the CPU test machines); everything after the count is the real path.
 */
function standInGpus(): number | undefined {
  const n = Number(process.env.GPULINK_STAND_IN_GPUS);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
