import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateDir, type StateLayout } from '../state/state-dir.js';
import { fingerprintOf, loadOrCreateCertificate } from './certificate.js';
import { x509 } from './x509.js';

let root: string;
let layout: StateLayout;
let logged: string[];
const log = (m: string) => logged.push(m);

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gpulink-cert-'));
  layout = await openStateDir(root);
  logged = [];
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('the agent certificate', () => {
  it('is made at first start with its key, both mode 0600, and kept', async () => {
    const first = await loadOrCreateCertificate(layout, log);
    expect(await mode(layout.tlsCertFile)).toBe(0o600);
    expect(await mode(layout.tlsKeyFile)).toBe(0o600);
    expect(await mode(join(root, 'tls'))).toBe(0o700);
    expect(first.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    const cert = new X509Certificate(first.certPem);
    expect(cert.subject).toBe('CN=gpulink-agent');
    expect(cert.ca).toBe(true);
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeGreaterThan(3600 * 24 * 3000 * 1000);
    const again = await loadOrCreateCertificate(layout, log);
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(logged).toEqual([]);
  });

  it('has an EC P-256 key and the names, usages and constraints clients rely on', async () => {
    const { certPem, keyPem } = await loadOrCreateCertificate(layout, log);
    const cert = new X509Certificate(certPem);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.subjectAltName).toBe(
      'DNS:gpulink-agent, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // Node lists the extended usages: serverAuth
    const parsed = new x509.X509Certificate(certPem);
    const constraints = parsed.getExtension(x509.BasicConstraintsExtension);
    expect([constraints?.ca, constraints?.critical]).toEqual([true, true]);
    const usages = parsed.getExtension(x509.KeyUsagesExtension);
    expect(usages?.critical).toBe(true);
    expect(usages?.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign);
    expect(parsed.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(parsed.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
  });

  it('has the fingerprint openssl computes: SHA-256 of the DER bytes, lowercase hex', async () => {
    const { certPem, fingerprint } = await loadOrCreateCertificate(layout, log);
    const der = Buffer.from(certPem.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    expect(fingerprint).toBe(createHash('sha256').update(der).digest('hex'));
    expect(fingerprintOf(certPem)).toBe(fingerprint);
  });

  it('tightens files that were copied in readable by others', async () => {
    await loadOrCreateCertificate(layout, log);
    await chmod(layout.tlsKeyFile, 0o644);
    await loadOrCreateCertificate(layout, log);
    expect(await mode(layout.tlsKeyFile)).toBe(0o600);
  });

  it('replaces a certificate whose key does not belong to it, and says so', async () => {
    const first = await loadOrCreateCertificate(layout, log);
    const other = await mkdtemp(join(tmpdir(), 'gpulink-cert-other-'));
    try {
      const second = await loadOrCreateCertificate(await openStateDir(other), log);
      await writeFile(layout.tlsKeyFile, second.keyPem);
    } finally {
      await rm(other, { recursive: true, force: true });
    }
    const replaced = await loadOrCreateCertificate(layout, log);
    expect(replaced.fingerprint).not.toBe(first.fingerprint);
    expect(logged.join('\n')).toMatch(/is not the key of .*making a new TLS certificate/);
    expect(await readFile(layout.tlsCertFile, 'utf8')).toBe(replaced.certPem);
  });

  it('replaces an unreadable certificate', async () => {
    await loadOrCreateCertificate(layout, log);
    await writeFile(layout.tlsCertFile, 'not a certificate');
    const replaced = await loadOrCreateCertificate(layout, log);
    expect(fingerprintOf(await readFile(layout.tlsCertFile))).toBe(replaced.fingerprint);
    expect(logged.join('\n')).toMatch(/is unreadable/);
  });
});
