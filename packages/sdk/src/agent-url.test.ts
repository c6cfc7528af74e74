import { afterEach, describe, expect, it } from 'vitest';
import { formatAgentUrl, parseAgentUrl } from './agent-url.js';
import { connect } from './client.js';
import { GpulinkError } from './errors.js';

const fp = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';

function refusal(url: string): GpulinkError {
  try {
    parseAgentUrl(url);
  } catch (e) {
    expect(e).toBeInstanceOf(GpulinkError);
    return e as GpulinkError;
  }
  throw new Error(`parseAgentUrl accepted ${url}`);
}

describe('parseAgentUrl', () => {
  it('reads the URL the agent prints', () => {
    expect(parseAgentUrl('gpulink://s3cret@127.0.0.1:7860')).toEqual({
      transport: 'grpc',
      token: 's3cret',
      host: '127.0.0.1',
      port: 7860,
      path: '/',
      fingerprint: undefined,
    });
  });

  it('percent-decodes the token, trims spaces and accepts IPv6 hosts', () => {
    const url = parseAgentUrl('  gpulink://a%2Bb%2Fc@[::1]:50051/ \n');
    expect(url).toMatchObject({ token: 'a+b/c', host: '::1', port: 50051 });
    expect(formatAgentUrl(url)).toBe('gpulink://a%2Bb%2Fc@[::1]:50051');
  });

  it('normalises a pinned fingerprint to 64 lowercase hex digits', () => {
    const url = parseAgentUrl(`gpulink://t@example.com:443?fp=${fp}`);
    expect(url.fingerprint).toBe(fp.replaceAll(':', '').toLowerCase());
    expect(parseAgentUrl(formatAgentUrl(url))).toEqual(url);
  });

  it('parses gpulink+wss:// with its path and a default port of 443', () => {
    const url = parseAgentUrl('gpulink+wss://t@abc.trycloudflare.com/grpc');
    expect(url).toMatchObject({ transport: 'wss', host: 'abc.trycloudflare.com', port: 443, path: '/grpc' });
    expect(formatAgentUrl(url)).toBe('gpulink+wss://t@abc.trycloudflare.com/grpc');
  });

  it('redacts the token for display', () => {
    expect(formatAgentUrl(parseAgentUrl('gpulink://s3cret@h:1'), { redactToken: true })).toBe(
      'gpulink://***@h:1',
    );
  });

  it.each([
    ['', /it is empty/],
    ['127.0.0.1:7860', /unknown scheme '127.0.0.1:'|no scheme/],
    ['http://t@127.0.0.1:7860', /unknown scheme 'http:' \(use the gpulink:\/\/ URL the agent printed\)/],
    ['gpulink://127.0.0.1:7860', /the token is missing/],
    ['gpulink://user:pw@127.0.0.1:7860', /without a ':'/],
    ['gpulink://t@127.0.0.1', /the port is missing/],
    ['gpulink://t@127.0.0.1:0', /port 0 is out of range/],
    ['gpulink://t@127.0.0.1:7860/x', /have no path/],
    ['gpulink://t@127.0.0.1:7860?tls=1', /unknown parameter 'tls' \(known: fp\)/],
    ['gpulink://t@127.0.0.1:7860?fp=abc', /'fp' must be a SHA-256 fingerprint/],
    ['gpulink://t@127.0.0.1:7860#x', /fragment/],
  ])('refuses %j with INVALID_ARGUMENT saying why', (url, why) => {
    const e = refusal(url);
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^INVALID_ARGUMENT: bad agent URL/);
    expect(e.message).toMatch(why);
    expect(e.message).toContain('expected gpulink://<token>@<host>:<port>');
  });

  it('never repeats the token in its errors', () => {
    const e = refusal('gpulink://very-secret-token@127.0.0.1:7860/path');
    expect(e.message).not.toContain('very-secret-token');
    expect(e.message).toContain('gpulink://***@127.0.0.1:7860/path');
  });
});

describe('connect() URL handling', () => {
  const saved = process.env.GPULINK_URL;
  afterEach(() => {
    if (saved === undefined) delete process.env.GPULINK_URL;
    else process.env.GPULINK_URL = saved;
  });

  it('says where the URL comes from when there is none', async () => {
    delete process.env.GPULINK_URL;
    await expect(connect()).rejects.toThrow(
      /^INVALID_ARGUMENT: no agent URL: pass one to connect\(\) or set GPULINK_URL/,
    );
  });

  it('reads GPULINK_URL when no URL is given', async () => {
    process.env.GPULINK_URL = 'gpulink://t@127.0.0.1';
    await expect(connect()).rejects.toThrow(/the port is missing/);
  });

  it("refuses gpulink+wss:// without a fingerprint: the agent's TLS runs inside the WebSocket", async () => {
    const wss = await connect('gpulink+wss://t@example.com/grpc').catch((e: unknown) => e);
    expect(wss).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((wss as Error).message).toMatch(/gpulink\+wss:\/\/ URL needs the agent's certificate fingerprint/);
  });

  it('checks the pinned fingerprint before anything else goes over the wire', async () => {
    // Nothing listens on port 1: the certificate check is what fails, with UNAVAILABLE.
    const tls = await connect(`gpulink://t@127.0.0.1:1?fp=${fp}`, { timeoutMs: 5_000 }).catch(
      (e: unknown) => e,
    );
    expect(tls).toMatchObject({ code: 'UNAVAILABLE' });
    expect((tls as Error).message).toMatch(/cannot make a TLS connection to the agent at 127\.0\.0\.1:1/);
  });
});
