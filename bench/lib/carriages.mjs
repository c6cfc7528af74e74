// One agent reached three ways at once, for the transports suite: `gpulink://` (direct TCP), the
// WebSocket carriage `gpulink+wss://` (through an HTTPS edge on loopback, lib/tls-edge.mjs) and the
// kernel transport `gpulink+jupyter://` (a relay in a dedicated kernel of a real jupyter_server whose
// loopback holds the agent). The agent speaks TLS, pinned by fingerprint, on all three.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startJupyterServer } from '@gpulink/gpu-agent/testing';
import { connect, formatAgentUrl } from '@gpulink/sdk';
import { childrenOf } from './processes.mjs';
import { python, startAgent, writeLoopbackCertificate } from './setup.mjs';
import { startTlsEdge } from './tls-edge.mjs';

/** The carriages in the order the suite names them; `direct` is the baseline. */
export const CARRIAGES = ['direct', 'wss', 'jupyter'];

export const carriageNames = {
  direct: 'direct TCP (gpulink://)',
  wss: 'WebSocket carriage (gpulink+wss://)',
  jupyter: 'kernel transport (gpulink+jupyter://)',
};

/** The jupyter_server process listening on `port` (the test server does not hand out its pid). */
function jupyterServerPid(port) {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmdline.includes('jupyter_server') && cmdline.includes(`--ServerApp.port=${port}`))
        return Number(name);
    } catch {
      // The process ended while /proc was read.
    }
  }
  return undefined;
}

/**
 * Starts the agent (`--tls --ws-port 0`, no warm pool: a script job then starts no torch import beside
 * the measurement), the edge and the Jupyter server under `root`, and connects one SDK client per
 * carriage. `jupyter` is the server and `urls` the three URLs (for probes of the relay kernel); `pids()` names the processes whose CPU time the suite reads. `close()` stops everything.
 */
export async function startCarriages(root) {
  const stops = [];
  const close = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const a = await startAgent({ warmWorkers: 0, extraArgs: ['--tls', '--ws-port', '0'] });
    stops.push(() => a.close());
    const { agent } = a;
    if (agent.fingerprint === undefined || agent.webSocketPort === undefined)
      throw new Error('the agent started without TLS or without its WebSocket endpoint');
    await mkdir(join(root, 'edge'));
    await writeLoopbackCertificate(join(root, 'edge'), 'edge');
    const edge = await startTlsEdge(agent.webSocketPort, join(root, 'edge'));
    stops.push(edge.stop);
    const jupyter = await startJupyterServer({ python });
    stops.push(() => jupyter.stop());

    const wssUrl = `gpulink+wss://${agent.token}@127.0.0.1:${edge.port}/gpulink?fp=${agent.fingerprint}`;
    const jupyterUrl = formatAgentUrl({
      transport: 'jupyter',
      token: agent.token,
      host: '127.0.0.1',
      port: jupyter.port,
      path: '/',
      fingerprint: agent.fingerprint,
      jupyter: {
        secure: false,
        agentPort: agent.port,
        token: jupyter.token,
        auth: 'token',
        kernel: undefined,
        colabSession: undefined,
      },
    });
    const clients = { direct: a.client };
    clients.wss = await connect(wssUrl, { timeoutMs: 60_000, webSocketCa: edge.caPem });
    stops.push(() => clients.wss.close());
    clients.jupyter = await connect(jupyterUrl, { timeoutMs: 120_000 });
    stops.push(() => clients.jupyter.close());

    const serverPid = jupyterServerPid(jupyter.port);
    return {
      agent: a,
      jupyter,
      urls: { direct: agent.url, wss: wssUrl, jupyter: jupyterUrl },
      clients,
      pids: () => ({
        agent: a.pid,
        edge: edge.pid,
        jupyterServer: serverPid,
        kernel: serverPid
          ? childrenOf(serverPid).find((c) => c.cmdline.includes('ipykernel'))?.pid
          : undefined,
      }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
