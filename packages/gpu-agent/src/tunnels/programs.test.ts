// Each tunnel program's output, as it prints it, read by its parser. The bore lines were recorded from
// bore-cli 0.6.0 (colour codes included: its logger writes them into pipes too). cloudflared and ngrok
// cannot run without their cloud here: their lines follow their documented formats (cloudflared's
// quick-tunnel banner, ngrok v3 `--log-format json`).
import { describe, expect, it } from 'vitest';
import { releaseAsset } from './install.js';
import { boreProgram, cloudflaredProgram, type LineReading, ngrokProgram } from './programs.js';

const readAll = (read: (line: string) => LineReading, lines: string[]) => lines.map(read);

describe('bore', () => {
  const program = boreProgram({ localHost: '127.0.0.1', localPort: 4242, server: 'bore.pub' });

  it('reads the public address from "listening at", with or without colour codes', () => {
    const coloured =
      '\u001b[2m2026-11-27T09:09:01.546781Z\u001b[0m \u001b[32m INFO\u001b[0m \u001b[2mbore_cli::client\u001b[0m\u001b[2m:\u001b[0m listening at bore.pub:20038';
    const readings = readAll(program.reader(), [
      '2026-11-27T09:09:10.036591Z  INFO bore_cli::client: connected to server remote_port=20038',
      coloured,
    ]);
    expect(readings[0]).toEqual({});
    expect(readings[1]).toEqual({ address: { transport: 'grpc', host: 'bore.pub', port: 20038 } });
  });

  it('keeps the reason it gives before exiting', () => {
    const read = program.reader();
    expect(read('Error: server error: port already in use')).toEqual({
      problem: 'server error: port already in use',
    });
    expect(read('Error: could not connect to 127.0.0.2:7835')).toEqual({
      problem: 'could not connect to 127.0.0.2:7835',
    });
  });

  it('asks for the previous port after a restart, and for any port once it stays taken', () => {
    const previous = { transport: 'grpc' as const, host: 'bore.pub', port: 20038 };
    expect(program.args(undefined, 0)).toEqual([
      'local',
      '4242',
      '--local-host',
      '127.0.0.1',
      '--to',
      'bore.pub',
    ]);
    expect(program.args(previous, 1)).toContain('--port');
    expect(program.args(previous, 1).slice(-2)).toEqual(['--port', '20038']);
    expect(program.args(previous, 8).slice(-2)).toEqual(['--port', '20038']);
    expect(program.args(previous, 9)).not.toContain('--port');
    const pinned = boreProgram({ localHost: '127.0.0.1', localPort: 1, server: 's', remotePort: 30001 });
    expect(pinned.args(undefined, 0).slice(-2)).toEqual(['--port', '30001']);
  });
});

describe('cloudflared', () => {
  const program = cloudflaredProgram({ webSocketPort: 5555 });

  it('forwards to the WebSocket endpoint on loopback', () => {
    expect(program.args(undefined, 0)).toEqual([
      'tunnel',
      '--no-autoupdate',
      '--url',
      'http://127.0.0.1:5555',
    ]);
  });

  it('takes the trycloudflare.com name from the banner, but only once a connection is registered', () => {
    const readings = readAll(program.reader(), [
      '2026-09-30T02:32:20Z INF Requesting new quick Tunnel on trycloudflare.com...',
      '2026-09-30T02:32:21Z INF +--------------------------------------------------------------------------------------------+',
      '2026-09-30T02:32:21Z INF |  Your quick Tunnel has been created! Visit it at (it may take some time to be reachable):  |',
      '2026-09-30T02:32:21Z INF |  https://crazy-words-here-now.trycloudflare.com                                           |',
      '2026-09-30T02:32:21Z INF +--------------------------------------------------------------------------------------------+',
      '2026-09-30T02:32:22Z INF Registered tunnel connection connIndex=0 connection=8a0c event=0 ip=198.41.200.13 location=ams01 protocol=quic',
    ]);
    expect(readings.slice(0, 5).every((r) => r.address === undefined)).toBe(true);
    expect(readings[5]).toEqual({
      address: { transport: 'wss', host: 'crazy-words-here-now.trycloudflare.com', port: 443 },
    });
  });

  it('keeps error lines', () => {
    const read = program.reader();
    expect(
      read(
        '2026-09-30T02:32:21Z ERR failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel": EOF',
      ).problem,
    ).toBe('failed to request quick Tunnel: Post "https://api.trycloudflare.com/tunnel": EOF');
  });
});

describe('ngrok', () => {
  it('reads an HTTPS endpoint from "started tunnel" as a WebSocket address', () => {
    const program = ngrokProgram({ mode: 'http', grpcHost: '127.0.0.1', grpcPort: 1, webSocketPort: 5555 });
    expect(program.args(undefined, 0)).toEqual([
      'http',
      'http://127.0.0.1:5555',
      '--log',
      'stdout',
      '--log-format',
      'json',
    ]);
    const readings = readAll(program.reader(), [
      '{"lvl":"info","msg":"no configuration paths supplied","t":"2026-09-30T02:40:00Z"}',
      '{"addr":"127.0.0.1:4040","lvl":"info","msg":"starting web service","obj":"web","t":"2026-09-30T02:40:00Z"}',
      '{"addr":"http://127.0.0.1:5555","lvl":"info","msg":"started tunnel","name":"command_line","obj":"tunnels","t":"2026-09-30T02:40:01Z","url":"https://ab12-203-0-113-7.ngrok-free.app"}',
    ]);
    expect(readings[2]).toEqual({
      address: { transport: 'wss', host: 'ab12-203-0-113-7.ngrok-free.app', port: 443 },
    });
  });

  it('reads a TCP endpoint as a raw gRPC address', () => {
    const program = ngrokProgram({ mode: 'tcp', grpcHost: '127.0.0.1', grpcPort: 7000, webSocketPort: 0 });
    expect(program.args(undefined, 0).slice(0, 2)).toEqual(['tcp', '127.0.0.1:7000']);
    expect(program.reader()('{"msg":"started tunnel","url":"tcp://4.tcp.eu.ngrok.io:12345"}')).toEqual({
      address: { transport: 'grpc', host: '4.tcp.eu.ngrok.io', port: 12345 },
    });
  });

  it('keeps the reason of a failure, e.g. a missing authtoken', () => {
    const program = ngrokProgram({ mode: 'http', grpcHost: '127.0.0.1', grpcPort: 1, webSocketPort: 2 });
    const read = program.reader();
    expect(
      read(
        '{"err":"authentication failed: Usage of ngrok requires a verified account and authtoken.\\n\\nERR_NGROK_4018","lvl":"eror","msg":"failed to reconnect session"}',
      ).problem,
    ).toMatch(/^failed to reconnect session: authentication failed.*ERR_NGROK_4018/s);
    expect(read('not json')).toEqual({});
    expect(program.hint).toMatch(/NGROK_AUTHTOKEN/);
  });
});

describe('setup --tunnel downloads', () => {
  it('come from each project’s own release URLs', () => {
    expect(releaseAsset('bore', 'linux', 'x64')).toEqual({
      url: 'https://github.com/ekzhang/bore/releases/download/v0.6.0/bore-v0.6.0-x86_64-unknown-linux-musl.tar.gz',
      format: 'tar.gz',
    });
    expect(releaseAsset('bore', 'darwin', 'arm64').url).toMatch(
      /bore-v0\.6\.0-aarch64-apple-darwin\.tar\.gz$/,
    );
    expect(releaseAsset('cloudflared', 'linux', 'x64')).toEqual({
      url: 'https://github.com/cloudflare/cloudflared/releases/latest/download/cloudflared-linux-amd64',
      format: 'binary',
    });
    expect(releaseAsset('cloudflared', 'darwin', 'arm64')).toEqual({
      url: 'https://github.com/cloudflare/cloudflared/releases/latest/download/cloudflared-darwin-arm64.tgz',
      format: 'tar.gz',
    });
    expect(releaseAsset('ngrok', 'linux', 'arm64')).toEqual({
      url: 'https://bin.equinox.io/c/bNyj1mQVY4c/ngrok-v3-stable-linux-arm64.tgz',
      format: 'tar.gz',
    });
    expect(releaseAsset('ngrok', 'darwin', 'x64').format).toBe('zip');
  });

  it('refuse platforms without a release, saying what to do', () => {
    expect(() => releaseAsset('bore', 'win32', 'x64')).toThrow(
      /no download for win32\/x64; install bore yourself/,
    );
    expect(() => releaseAsset('ngrok', 'linux', 'ia32')).toThrow(/no download for linux\/ia32/);
  });
});
