// The HTTPS edge of the WebSocket carriage (`gpulink+wss://`), standing in for a tunnel's edge
// (cloudflared, ngrok): it terminates its own TLS and passes the bytes inside, the WebSocket upgrade
// included, to the agent's --ws-port. A separate process, as an edge is a separate machine, so its CPU
// is not the SDK's. Started from this file with `node tls-edge.mjs edge UPSTREAM_PORT CERT_DIR`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createServer } from 'node:tls';
import { fileURLToPath } from 'node:url';

/**
 * Starts the edge process in front of `upstreamPort`, with the certificate `dir`/edge.crt and its key
 * edge.key (setup.mjs `writeLoopbackCertificate`). Resolves with its port, pid, the certificate (PEM,
 * for the SDK's `webSocketCa`) and a stop().
 */
export async function startTlsEdge(upstreamPort, dir) {
  const caPem = readFileSync(join(dir, 'edge.crt'), 'utf8');
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'edge', String(upstreamPort), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)));
    child.once('exit', (code) => reject(new Error(`the TLS edge exited (${code}) before listening`)));
  });
  return {
    port,
    pid: child.pid,
    caPem,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

function edge(upstreamPort, dir) {
  const server = createServer(
    { key: readFileSync(join(dir, 'edge.key')), cert: readFileSync(join(dir, 'edge.crt')) },
    (outer) => {
      const inner = netConnect(upstreamPort, '127.0.0.1');
      outer.setNoDelay(true);
      inner.setNoDelay(true);
      const end = () => {
        outer.destroy();
        inner.destroy();
      };
      for (const s of [outer, inner]) {
        s.on('error', end);
        s.on('close', end);
      }
      outer.pipe(inner);
      inner.pipe(outer);
    },
  );
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === 'edge') edge(Number(process.argv[3]), process.argv[4]);
