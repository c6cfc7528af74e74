// The pin is enforced by grpc-js itself on every connection, not only by the first handshake: these
// tests run grpc-js against TLS servers whose certificates differ from the pinned one in each way that
// matters, using certificates made here in-process.
import { X509Certificate } from 'node:crypto';
import { type CertificateRequest, makeCertificate } from '@gpulink/gpu-agent/testing';
import { Client, Server, ServerCredentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpulinkError } from './errors.js';
import { fetchPinnedCertificate, pinnedCredentials } from './tls-pinning.js';

interface Identity {
  cert: string;
  key: string;
  fp: string;
}

/** Self-signed CA:TRUE, like an agent's certificate. */
let pinned: Identity;
/** Signed by `pinned`'s key: it passes the chain check when `pinned` is the root. */
let child: Identity;
/** Another self-signed certificate: what a machine in the middle would present. */
let stranger: Identity;
const servers: Server[] = [];

const fingerprint = (pem: string) =>
  new X509Certificate(pem).fingerprint256.replaceAll(':', '').toLowerCase();

function selfSigned(): Promise<Identity> {
  return makeIdentity({ ca: true });
}

function signedBy(parent: Identity): Promise<Identity> {
  return makeIdentity({ issuer: { certPem: parent.cert, keyPem: parent.key } });
}

async function makeIdentity(o: Pick<CertificateRequest, 'ca' | 'issuer'>): Promise<Identity> {
  const { certPem, keyPem } = await makeCertificate({
    commonName: 'gpulink-agent',
    altNames: [{ dns: 'gpulink-agent' }],
    validDays: 2,
    ...o,
  });
  return { cert: certPem, key: keyPem, fp: fingerprint(certPem) };
}

async function tlsServer(identity: Identity): Promise<number> {
  const server = new Server();
  servers.push(server);
  const creds = ServerCredentials.createSsl(
    null,
    [{ private_key: Buffer.from(identity.key), cert_chain: Buffer.from(identity.cert) }],
    false,
  );
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', creds, (e, port) => (e ? reject(e) : resolve(port))),
  );
}

/** Whether grpc-js, with credentials pinned to (root, fp), gets a ready channel to the server. */
function grpcConnects(port: number, root: string, fp: string): Promise<true | Error> {
  const { credentials, options } = pinnedCredentials(root, fp);
  const client = new Client(`127.0.0.1:${port}`, credentials, options);
  return new Promise((resolve) =>
    client.waitForReady(Date.now() + 3_000, (error) => {
      client.close();
      resolve(error ?? true);
    }),
  );
}

const noLimits = { signal: undefined, deadline: undefined };

beforeAll(async () => {
  pinned = await selfSigned();
  child = await signedBy(pinned);
  stranger = await selfSigned();
});

afterAll(() => {
  for (const s of servers) s.forceShutdown();
});

describe('grpc-js with pinned credentials', () => {
  it('connects to the server with the pinned certificate', async () => {
    const port = await tlsServer(pinned);
    expect(await grpcConnects(port, pinned.cert, pinned.fp)).toBe(true);
  });

  it('refuses a different self-signed certificate (the chain check)', async () => {
    const port = await tlsServer(stranger);
    expect(await grpcConnects(port, pinned.cert, pinned.fp)).toBeInstanceOf(Error);
  });

  it('refuses a certificate the pinned one signed (the fingerprint check, on every connection)', async () => {
    const port = await tlsServer(child);
    // The chain is valid: with the child's own fingerprint pinned the same credentials connect...
    expect(await grpcConnects(port, pinned.cert, child.fp)).toBe(true);
    // ...so what refuses here is the fingerprint comparison alone.
    expect(await grpcConnects(port, pinned.cert, pinned.fp)).toBeInstanceOf(Error);
  });
});

describe('fetchPinnedCertificate', () => {
  it('returns the certificate when its fingerprint is the pinned one, with or without colons', async () => {
    const port = await tlsServer(pinned);
    const pem = await fetchPinnedCertificate('127.0.0.1', port, pinned.fp, noLimits);
    expect(fingerprint(pem)).toBe(pinned.fp);
    const colons = pinned.fp.toUpperCase().replace(/(..)(?!$)/g, '$1:');
    expect(fingerprint(await fetchPinnedCertificate('127.0.0.1', port, colons, noLimits))).toBe(pinned.fp);
  });

  it('rejects another certificate with UNAUTHENTICATED, naming both fingerprints', async () => {
    const port = await tlsServer(stranger);
    const error = await fetchPinnedCertificate('127.0.0.1', port, pinned.fp, noLimits).catch((e) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect(error.code).toBe('UNAUTHENTICATED');
    expect(error.message).toContain(`has fingerprint ${stranger.fp}, but the URL pins ${pinned.fp}`);
  });

  it('says when the server does not speak TLS', async () => {
    const plain = new Server();
    servers.push(plain);
    const port = await new Promise<number>((resolve, reject) =>
      plain.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) =>
        e ? reject(e) : resolve(p),
      ),
    );
    const error = await fetchPinnedCertificate('127.0.0.1', port, pinned.fp, {
      signal: undefined,
      deadline: Date.now() + 5_000,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(GpulinkError);
    expect(error.code).toMatch(/UNAVAILABLE|DEADLINE_EXCEEDED/);
  });
});
