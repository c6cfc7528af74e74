import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStateDir, type StateLayout } from '../state/state-dir.js';
import { fingerprintOf, loadOrCreateCertificate } from './certificate.js';

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

  it('has the fingerprint openssl computes (SHA-256 of the DER bytes)', async () => {
    const { certPem, fingerprint } = await loadOrCreateCertificate(layout, log);
    const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: certPem });
    const expected = /=([0-9A-F:]+)/.exec(out.toString())?.[1]?.replaceAll(':', '').toLowerCase();
    expect(fingerprint).toBe(expected);
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
