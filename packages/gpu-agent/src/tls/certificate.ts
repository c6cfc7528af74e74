// The agent's TLS identity: one self-signed certificate made at first start and kept in the state dir.
// Clients do not check it against any CA; they pin its SHA-256 fingerprint, which the agent prints in
// its URL (`?fp=`), so the certificate needs no real host name and survives the tunnel's address changing.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmod, readFile } from 'node:fs/promises';
import { type StateLayout, writeFileAtomic } from '../state/state-dir.js';
import { makeCertificate } from './make-certificate.js';

/** The certificate and key the agent serves TLS with. */
export interface AgentCertificate {
  certPem: string;
  keyPem: string;
  /** SHA-256 of the certificate's DER bytes: 64 lowercase hex digits, as it goes into `?fp=`. */
  fingerprint: string;
}

/** Subject and SNI name of every agent certificate; clients send it as the TLS server name. */
export const CERTIFICATE_NAME = 'gpulink-agent';

/** Ten years: the certificate is pinned, so expiry only forces a new URL; it should not come soon. */
const VALID_DAYS = 3650;

/** `AA:BB:...` (Node's notation) -> `aabb...` (the URL's). */
export function fingerprintOf(certPem: string | Buffer): string {
  return new X509Certificate(certPem).fingerprint256.replaceAll(':', '').toLowerCase();
}

/**
 * Reads the certificate from the state dir, or makes one (and its key) when there is none, when the
 * files do not belong together, or when it has expired. Both files are mode 0600.
 */
export async function loadOrCreateCertificate(
  layout: StateLayout,
  log: (message: string) => void,
): Promise<AgentCertificate> {
  const existing = await readCertificate(layout);
  if (existing.ok) return existing.certificate;
  if (existing.problem) log(`${existing.problem}: making a new TLS certificate (the URL's fp= changes)`);
  // CA:TRUE lets a client trust this very certificate as its own root, which is how the SDK pins it
  // with grpc-js.
  const { certPem, keyPem } = await makeCertificate({
    commonName: CERTIFICATE_NAME,
    altNames: [{ dns: CERTIFICATE_NAME }, { dns: 'localhost' }, { ip: '127.0.0.1' }, { ip: '::1' }],
    validDays: VALID_DAYS,
    ca: true,
  });
  // The key first: a crash between the two writes leaves a mismatched pair, which the next start
  // detects and replaces, never a certificate whose key is missing.
  await writeFileAtomic(layout.tlsKeyFile, keyPem);
  await writeFileAtomic(layout.tlsCertFile, certPem);
  return { certPem, keyPem, fingerprint: fingerprintOf(certPem) };
}

type ReadResult = { ok: true; certificate: AgentCertificate } | { ok: false; problem?: string };

async function readCertificate(layout: StateLayout): Promise<ReadResult> {
  let certPem: string;
  let keyPem: string;
  try {
    [certPem, keyPem] = await Promise.all([
      readFile(layout.tlsCertFile, 'utf8'),
      readFile(layout.tlsKeyFile, 'utf8'),
    ]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { ok: false };
    throw error;
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      return { ok: false, problem: `${layout.tlsKeyFile} is not the key of ${layout.tlsCertFile}` };
    }
  } catch (error) {
    return { ok: false, problem: `${layout.tlsCertFile} is unreadable (${(error as Error).message})` };
  }
  if (new Date(cert.validTo).getTime() <= Date.now()) {
    return { ok: false, problem: `${layout.tlsCertFile} expired on ${cert.validTo}` };
  }
  // Files copied in by hand (or restored from a backup) may be readable by others; the key must not be.
  await Promise.all([layout.tlsCertFile, layout.tlsKeyFile].map((f) => chmod(f, 0o600)));
  return { ok: true, certificate: { certPem, keyPem, fingerprint: fingerprintOf(certPem) } };
}
