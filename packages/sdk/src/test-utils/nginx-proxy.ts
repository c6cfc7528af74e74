// A real HTTPS reverse proxy on loopback that terminates TLS and passes WebSockets: nginx with its own
// config, certificate and logs in a temp folder, standing in for a tunnel's edge (cloudflared, ngrok).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCertificate } from '@gpulink/gpu-agent/testing';

export interface NginxProxy {
  readonly port: number;
  /** The edge's certificate (PEM), for the SDK's `webSocketCa`: it is made here, not by a public CA. */
  readonly caPem: string;
  /** The access log: one line per request, with the upgrade status and any Authorization header. */
  accessLog(): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Proxies `https://127.0.0.1:<port>/gpulink` (WebSocket upgrades included) to `127.0.0.1:<upstreamPort>`. */
export async function startNginxProxy(nginx: string, upstreamPort: number): Promise<NginxProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'gpulink-nginx-'));
  const edge = await makeCertificate({
    commonName: '127.0.0.1',
    altNames: [{ ip: '127.0.0.1' }],
    validDays: 2,
    ca: true,
  });
  await writeFile(join(dir, 'edge.crt'), edge.certPem);
  await writeFile(join(dir, 'edge.key'), edge.keyPem, { mode: 0o600 });
  const port = await freePort();
  const config = `
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 64; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format edge '$request $status upgrade=$http_upgrade authorization=$http_authorization';
  access_log ${dir}/access.log edge;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${dir}/edge.crt;
    ssl_certificate_key ${dir}/edge.key;
    location /gpulink {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
    }
  }
}
`;
  await writeFile(join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(
    nginx,
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const stderr: string[] = [];
  child.stderr?.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Ready once the port accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr.join('')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port}: ${stderr.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    port,
    caPem: edge.certPem,
    accessLog: () => readFile(join(dir, 'access.log'), 'utf8').catch(() => ''),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGTERM: nginx's fast shutdown, which also ends upgraded connections.
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
