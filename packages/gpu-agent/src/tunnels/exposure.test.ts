import { describe, expect, it } from 'vitest';
import { agentUrl, needsTls, tunnelUsesWebSocket } from './exposure.js';

const fp = 'ab'.repeat(32);

describe('when the agent speaks TLS', () => {
  it('on loopback only when asked', () => {
    expect(needsTls('127.0.0.1', {})).toBe(false);
    expect(needsTls('::1', {})).toBe(false);
    expect(needsTls('localhost', {})).toBe(false);
    expect(needsTls('127.0.0.1', { tls: true })).toBe(true);
  });

  it('always beyond loopback, behind a tunnel, or with the WebSocket endpoint', () => {
    expect(needsTls('0.0.0.0', {})).toBe(true);
    expect(needsTls('192.168.1.20', {})).toBe(true);
    expect(needsTls('::', {})).toBe(true);
    expect(needsTls('127.0.0.1', { tunnel: { kind: 'bore' } })).toBe(true);
    expect(needsTls('127.0.0.1', { webSocketPort: 0 })).toBe(true);
  });
});

describe('which tunnels need the WebSocket endpoint', () => {
  it('HTTPS edges do, raw TCP relays do not', () => {
    expect(tunnelUsesWebSocket({ kind: 'cloudflared' })).toBe(true);
    expect(tunnelUsesWebSocket({ kind: 'ngrok' })).toBe(true);
    expect(tunnelUsesWebSocket({ kind: 'ngrok', ngrokTcp: true })).toBe(false);
    expect(tunnelUsesWebSocket({ kind: 'bore' })).toBe(false);
    expect(tunnelUsesWebSocket(undefined)).toBe(false);
  });
});

describe('agent URLs', () => {
  it('gpulink:// with the fingerprint for TLS, without it for plaintext', () => {
    expect(agentUrl('tok', { transport: 'grpc', host: 'bore.pub', port: 41234 }, fp)).toBe(
      `gpulink://tok@bore.pub:41234?fp=${fp}`,
    );
    expect(agentUrl('tok', { transport: 'grpc', host: '127.0.0.1', port: 7860 }, undefined)).toBe(
      'gpulink://tok@127.0.0.1:7860',
    );
    expect(agentUrl('tok', { transport: 'grpc', host: '::1', port: 7860 }, undefined)).toBe(
      'gpulink://tok@[::1]:7860',
    );
  });

  it('gpulink+wss:// with the WebSocket path, and no port when it is 443', () => {
    expect(agentUrl('tok', { transport: 'wss', host: 'a-b.trycloudflare.com', port: 443 }, fp)).toBe(
      `gpulink+wss://tok@a-b.trycloudflare.com/gpulink?fp=${fp}`,
    );
    expect(agentUrl('tok', { transport: 'wss', host: 'proxy.lan', port: 8443 }, fp)).toBe(
      `gpulink+wss://tok@proxy.lan:8443/gpulink?fp=${fp}`,
    );
  });

  it('percent-encodes a token given by --token-file', () => {
    expect(agentUrl('a b/c@d', { transport: 'grpc', host: 'h', port: 1 }, undefined)).toBe(
      'gpulink://a%20b%2Fc%40d@h:1',
    );
  });
});
