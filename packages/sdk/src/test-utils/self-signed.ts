// A self-signed certificate made with openssl, for the tests that stand up TLS servers of their own.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * Writes `<dir>/<name>.key` and `<dir>/<name>.crt`: an EC P-256 certificate for `subject`, valid two
 * days, with each of `extensions` (openssl `-addext` values, e.g. "subjectAltName=IP:127.0.0.1").
 */
export function writeSelfSignedCertificate(
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
): { keyPath: string; certPath: string } {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.crt`);
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    subject,
    ...extensions.flatMap((e) => ['-addext', e]),
    '-keyout',
    keyPath,
    '-out',
    certPath,
  ]);
  return { keyPath, certPath };
}
