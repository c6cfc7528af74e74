// X.509 certificates made in-process with @peculiar/x509 on Node's WebCrypto, so a host without the
// openssl program (Windows, slim images) can still serve TLS. The agent's certificate and the tests'
// own TLS servers are all made here.
import { randomBytes, webcrypto } from 'node:crypto';
import { x509 } from './x509.js';

/** A name the certificate is valid for: a DNS name or an IP address (v4 or v6). */
export type AltName = { dns: string } | { ip: string };

export interface CertificateRequest {
  /** The subject's CN. */
  commonName: string;
  /** The subjectAltName entries, in this order. */
  altNames: readonly AltName[];
  validDays: number;
  /** CA:TRUE with keyCertSign: lets a client trust this very certificate as its root. @default false */
  ca?: boolean;
  /** Signs with this certificate's key, making a chain. @default self-signed */
  issuer?: { certPem: string; keyPem: string };
}

/** A certificate (PEM) and its private key (PKCS#8 PEM). */
export interface CertificatePair {
  certPem: string;
  keyPem: string;
}

/** EC P-256 keys signed with ECDSA SHA-256: short, and what every TLS stack speaks. */
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

const { subtle } = webcrypto;

/** Makes a key pair and a certificate for it, with serverAuth and the given names. */
export async function makeCertificate(request: CertificateRequest): Promise<CertificatePair> {
  const keys = await subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const ca = request.ca ?? false;
  const notBefore = new Date();
  const issuer = request.issuer && {
    cert: new x509.X509Certificate(request.issuer.certPem),
    keyPem: request.issuer.keyPem,
  };
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(ca, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | (ca ? x509.KeyUsageFlags.keyCertSign : 0),
      true,
    ),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(
      request.altNames.map((n) => ('dns' in n ? { type: 'dns', value: n.dns } : { type: 'ip', value: n.ip })),
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, webcrypto),
  ];
  // Names the issuer's key: with the same subject on both, it is what tells a verifier that this
  // certificate is not self-signed.
  if (issuer) {
    extensions.push(
      await x509.AuthorityKeyIdentifierExtension.create(issuer.cert.publicKey, false, webcrypto),
    );
  }
  const fields = {
    serialNumber: serialNumber(),
    notBefore,
    notAfter: new Date(notBefore.getTime() + request.validDays * 24 * 3600 * 1000),
    signingAlgorithm: ALGORITHM,
    extensions,
  };
  const name = `CN=${request.commonName}`;
  const cert = issuer
    ? await x509.X509CertificateGenerator.create(
        {
          ...fields,
          subject: name,
          issuer: issuer.cert.subject,
          publicKey: keys.publicKey,
          signingKey: await importPrivateKey(issuer.keyPem),
        },
        webcrypto,
      )
    : await x509.X509CertificateGenerator.createSelfSigned({ ...fields, name, keys }, webcrypto);
  const pkcs8 = await subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}

function importPrivateKey(keyPem: string): Promise<webcrypto.CryptoKey> {
  const [der] = x509.PemConverter.decode(keyPem);
  if (!der) throw new Error('the issuer key is not PEM');
  return subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

/** 20 random bytes, as openssl makes them: the top bit clear (a positive INTEGER), the next one set (no
 * leading zero byte, which DER would drop). */
function serialNumber(): string {
  const bytes = randomBytes(20);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}
