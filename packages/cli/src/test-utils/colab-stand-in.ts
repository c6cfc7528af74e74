// A STAND-IN for Google's side of Colab, for the tests of `gpulink colab`: the `colab` executable
// (colab-stand-in-cli.py, put first on PATH), the Colab backend it talks to (assignments and their
// runtime-proxy tokens), and Colab's runtime proxy in front of a real Jupyter server. The proxy takes
// only a live runtime-proxy token, in the header or the query parameter the official CLI sends
// (google-colab-cli, src/colab_cli/runtime.py), answers 401 to anything else, strips it and forwards
// with the Jupyter server's own token, HTTP and WebSocket alike. Everything behind it is real.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestJupyterServer } from '@gpulink/gpu-agent/testing';

export interface ColabStandIn {
  /** A folder holding the stand-in `colab`: put it first on PATH. */
  readonly binDir: string;
  /** Environment the stand-in `colab` needs (where its backend is). */
  readonly env: Record<string, string>;
  /** The runtime's URL at the stand-in proxy, as a session's `url`. */
  readonly runtimeUrl: string;
  /** The commands of the stand-in `colab` that reached the backend, in order (`new`, `status`, `stop`). */
  readonly calls: string[];
  /** The endpoints assigned now. */
  assigned(): string[];
  /** Ends every token issued so far, as if its time had run out; the backend issues new ones. */
  expireTokens(): void;
  stop(): Promise<void>;
}

interface Issued {
  endpoint: string;
  expiresAt: number;
}

const tokenHeader = 'x-colab-runtime-proxy-token';
const tokenParam = 'colab-runtime-proxy-token';
const tokenLifeS = 3600;
const cliScript = fileURLToPath(new URL('./colab-stand-in-cli.py', import.meta.url));

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => parts.push(d));
    req.once('end', () => resolve(Buffer.concat(parts).toString()));
    req.once('error', reject);
  });
}

export async function startColabStandIn(options: {
  jupyter: TestJupyterServer;
  /** A Python 3 for the stand-in `colab`. */
  python: string;
  /** A folder of the test's own. */
  dir: string;
}): Promise<ColabStandIn> {
  const { jupyter } = options;
  const tokens = new Map<string, Issued>();
  const current = new Map<string, string>();
  const calls: string[] = [];
  const sockets = new Set<Socket>();

  const issue = (endpoint: string) => {
    const token = randomBytes(18).toString('base64url');
    tokens.set(token, { endpoint, expiresAt: Date.now() + tokenLifeS * 1000 });
    current.set(endpoint, token);
    return token;
  };
  const live = (token: string | undefined) => {
    const issued = token === undefined ? undefined : tokens.get(token);
    return issued !== undefined && issued.expiresAt > Date.now() && current.has(issued.endpoint);
  };

  // The proxy: Colab's token in, the Jupyter server's token out.
  const admit = (req: IncomingMessage): string | undefined => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const header = req.headers[tokenHeader];
    const token =
      (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get(tokenParam) ?? undefined;
    if (!live(token)) return undefined;
    url.searchParams.delete(tokenParam);
    url.searchParams.delete('authuser');
    return `${url.pathname}${url.search}`;
  };
  const upstreamHeaders = (req: IncomingMessage) => {
    const headers = { ...req.headers };
    delete headers[tokenHeader];
    headers.host = `127.0.0.1:${jupyter.port}`;
    headers.authorization = `token ${jupyter.token}`;
    return headers;
  };
  const refuse = (res: ServerResponse) => {
    res
      .writeHead(401, { 'content-type': 'text/plain' })
      .end('stand-in runtime proxy: no live runtime-proxy token');
  };

  const proxy = createServer((req, res) => {
    const path = admit(req);
    if (path === undefined) {
      req.resume();
      refuse(res);
      return;
    }
    const upstream = request(
      { host: '127.0.0.1', port: jupyter.port, method: req.method, path, headers: upstreamHeaders(req) },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  proxy.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const path = admit(req);
    if (path === undefined) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const upstream = request({
      host: '127.0.0.1',
      port: jupyter.port,
      method: req.method,
      path,
      headers: upstreamHeaders(req),
    });
    upstream.once('upgrade', (answer, upSocket: Socket, upHead: Buffer) => {
      sockets.add(upSocket);
      upSocket.once('close', () => {
        sockets.delete(upSocket);
        socket.destroy();
      });
      socket.once('close', () => upSocket.destroy());
      upSocket.on('error', () => upSocket.destroy());
      const lines = [`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}`];
      for (let i = 0; i < answer.rawHeaders.length; i += 2)
        lines.push(`${answer.rawHeaders[i]}: ${answer.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    });
    upstream.once('response', (answer) => {
      socket.end(`HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\nConnection: close\r\n\r\n`);
      answer.resume();
    });
    upstream.once('error', () => socket.destroy());
    upstream.end();
  });
  const proxyPort = await listen(proxy);
  const runtimeUrl = `http://127.0.0.1:${proxyPort}/`;

  // The backend: what the real CLI reaches at colab.research.google.com/tun/m/...
  const proxyInfo = (endpoint: string) => {
    const token = current.get(endpoint) as string;
    const issued = tokens.get(token);
    const fresh = issued && issued.expiresAt > Date.now() ? token : issue(endpoint);
    return { token: fresh, url: runtimeUrl, tokenExpiresInSeconds: tokenLifeS };
  };
  const backend = createServer(async (req, res) => {
    calls.push(String(req.headers['x-stand-in-command'] ?? '?'));
    const body = await readBody(req);
    const answer = (value: unknown) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.method === 'POST' && req.url === '/assign') {
      const { accelerator } = JSON.parse(body) as { accelerator: string };
      const endpoint = `gpu-${accelerator.toLowerCase()}-s-${randomBytes(6).toString('hex')}`;
      issue(endpoint);
      return answer({ endpoint, accelerator, runtimeProxyInfo: proxyInfo(endpoint) });
    }
    if (req.method === 'GET' && req.url === '/assignments') {
      return answer({
        assignments: [...current.keys()].map((e) => ({ endpoint: e, runtimeProxyInfo: proxyInfo(e) })),
      });
    }
    const unassign = /^\/unassign\/(.+)$/.exec(req.url ?? '');
    if (req.method === 'POST' && unassign?.[1]) {
      current.delete(unassign[1]);
      return answer({});
    }
    res.writeHead(404).end();
  });
  const backendPort = await listen(backend);

  const binDir = join(options.dir, 'stand-in-bin');
  await mkdir(binDir, { recursive: true });
  const colab = join(binDir, 'colab');
  await writeFile(colab, `#!/bin/sh\nexec '${options.python}' '${cliScript}' "$@"\n`);
  await chmod(colab, 0o755);

  return {
    binDir,
    env: { COLAB_STAND_IN_BACKEND: `http://127.0.0.1:${backendPort}` },
    runtimeUrl,
    calls,
    assigned: () => [...current.keys()],
    expireTokens() {
      for (const issued of tokens.values()) issued.expiresAt = 0;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      proxy.closeAllConnections();
      backend.closeAllConnections();
      await Promise.all([proxy, backend].map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}
