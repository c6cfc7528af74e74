// TLS to an agent whose self-signed certificate is pinned by the URL's `fp=` (its SHA-256).
//
// Why a first handshake of our own: Node only calls a `checkServerIdentity` hook once the chain has
// been verified, and a self-signed certificate fails that check first. Turning verification off
// (`rejectUnauthorized: false`) would skip the hook as well, and grpc-js would then accept any
// certificate. So the SDK fetches the agent's certificate once, checks its fingerprint, and hands
// grpc-js exactly that certificate as the only trusted root, plus a `checkServerIdentity` that compares
// the fingerprint again on every connection. A server that presents anything else fails the chain
// check; one that presents a certificate signed by the pinned one fails the fingerprint check.
import { X509Certificate } from 'node:crypto';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { type ChannelCredentials, type ChannelOptions, credentials } from '@grpc/grpc-js';
import { GpulinkError } from './errors.js';
import { abortError, deadlineError, type OperationLimits } from './rpc.js';

/**
 * The name the agent's certificate is made for. Sent as the TLS server name instead of the URL's host
 * (an IP address there is not a valid SNI name, and the tunnel's host name is not in the certificate):
 * identity comes from the fingerprint, not from names.
 */
const AGENT_CERTIFICATE_NAME = 'gpulink-agent';

/** `AA:BB:..` or `aabb..` -> `aabb..`. */
const normalise = (fingerprint: string) => fingerprint.replaceAll(':', '').toLowerCase();

function mismatch(actual: string, pinned: string, where: string): GpulinkError {
  return new GpulinkError(
    'UNAUTHENTICATED',
    `the agent's TLS certificate at ${where} has fingerprint ${actual}, but the URL pins ${pinned}: refusing to connect. ` +
      'If the agent made a new certificate (its state dir was reset), use the URL it prints now; otherwise something between you and the agent is intercepting the connection.',
  );
}

/**
 * One TLS handshake with `host:port` that reads the certificate and checks it against `fingerprint`.
 * Resolves with the certificate as PEM; rejects with UNAUTHENTICATED on a mismatch and UNAVAILABLE
 * when there is no TLS server there. Sends nothing after the handshake.
 */
export function fetchPinnedCertificate(
  host: string,
  port: number,
  fingerprint: string,
  limits: OperationLimits,
  where = `${host}:${port}`,
): Promise<string> {
  const pinned = normalise(fingerprint);
  return new Promise<string>((resolve, reject) => {
    if (limits.signal?.aborted) {
      reject(abortError(limits.signal));
      return;
    }
    // Verification is off for this one handshake only: it reads the certificate, compares its
    // fingerprint, and closes. Nothing is sent over it.
    const socket = tlsConnect({
      host,
      port,
      servername: AGENT_CERTIFICATE_NAME,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
    });
    let done = false;
    const finish = (error: GpulinkError | undefined, pem?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      limits.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(pem as string);
    };
    const onAbort = () => finish(abortError(limits.signal as AbortSignal));
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => finish(deadlineError()),
      limits.deadline === undefined ? 30_000 : Math.max(0, limits.deadline - Date.now()),
    );
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate(true);
      if (!cert?.raw) {
        finish(new GpulinkError('UNAVAILABLE', `the agent at ${where} presented no TLS certificate`));
        return;
      }
      const actual = normalise(cert.fingerprint256);
      if (actual !== pinned) {
        finish(mismatch(actual, pinned, where));
        return;
      }
      finish(undefined, new X509Certificate(cert.raw).toString());
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      const plaintext =
        /wrong version number|packet length too long|unexpected eof|socket disconnected/i.test(error.message);
      const why = plaintext
        ? `${error.message}. Is the agent running without TLS? Its URL then has no fp=`
        : error.message;
      finish(
        new GpulinkError('UNAVAILABLE', `cannot make a TLS connection to the agent at ${where}: ${why}`, {
          cause: error,
        }),
      );
    });
  });
}

/**
 * grpc-js credentials that accept only the certificate `certPem` with this fingerprint (see the top of
 * this file), and the channel options that go with them.
 */
export function pinnedCredentials(
  certPem: string,
  fingerprint: string,
): { credentials: ChannelCredentials; options: ChannelOptions } {
  const pinned = normalise(fingerprint);
  return {
    credentials: credentials.createSsl(Buffer.from(certPem), null, null, {
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const actual = normalise(cert.fingerprint256 ?? '');
        return actual === pinned ? undefined : mismatch(actual, pinned, 'the connection');
      },
    }),
    options: { 'grpc.ssl_target_name_override': AGENT_CERTIFICATE_NAME },
  };
}
