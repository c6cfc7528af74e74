import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { makeCertificate } from './make-certificate.js';

describe('makeCertificate', () => {
  it('makes a leaf signed by an issuer, which only that issuer verifies', async () => {
    const root = await makeCertificate({ commonName: 'root', altNames: [], validDays: 2, ca: true });
    const other = await makeCertificate({ commonName: 'root', altNames: [], validDays: 2, ca: true });
    const leaf = await makeCertificate({
      commonName: 'leaf',
      altNames: [{ ip: '127.0.0.1' }],
      validDays: 2,
      issuer: root,
    });
    const cert = new X509Certificate(leaf.certPem);
    expect([cert.subject, cert.issuer, cert.ca]).toEqual(['CN=leaf', 'CN=root', false]);
    expect(cert.subjectAltName).toBe('IP Address:127.0.0.1');
    expect(cert.verify(new X509Certificate(root.certPem).publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / (24 * 3600 * 1000);
    expect(days).toBe(2);
  });

  it('gives each certificate its own positive 20-byte serial', async () => {
    const serials = await Promise.all(
      [1, 2, 3].map(async () => {
        const { certPem } = await makeCertificate({ commonName: 'x', altNames: [], validDays: 1 });
        return new X509Certificate(certPem).serialNumber;
      }),
    );
    expect(new Set(serials).size).toBe(3);
    for (const s of serials) expect(s).toMatch(/^[4-7][0-9A-F]{39}$/);
  });
});
