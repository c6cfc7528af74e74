// The raw-TCP baseline of the upload suite: the same bytes copied over a plain node:net connection on
// loopback into files on disk, with no hashing, no protocol and no dedup. The receiver is a separate
// process (like the agent), started from this file with `node tcp-copy.mjs sink OUT_DIR`.
//
// Wire format per file: u16 path length, path (UTF-8), u64 size, then the bytes; then a path length
// of 0 ends the copy, and the receiver, having written every file, answers one byte: the copy is done
// when that arrives. (An end marker rather than a half-close: a proxy such as toxiproxy closes both
// directions when one ends.)
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, connect as netConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Starts the receiver process writing under `outDir`; resolves with its port and a stop(). */
export async function startTcpSink(outDir) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'sink', outDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (l) => resolve(Number(l)));
    child.once('exit', (code) => reject(new Error(`the TCP sink exited (${code}) before listening`)));
  });
  return {
    port,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Sends `files` ({ path, absolutePath, size }) to the sink on `port` and resolves once the sink has
 * written them all. Reads each file in 1 MiB pieces and waits for the socket to drain, as a careful
 * copy program would.
 */
export async function tcpCopy(port, files) {
  const socket = netConnect(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const acked = new Promise((resolve, reject) => {
    socket.once('data', () => resolve());
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('the TCP sink closed without acknowledging')));
  });
  const write = (buf) =>
    socket.write(buf) ? Promise.resolve() : new Promise((resolve) => socket.once('drain', resolve));
  const piece = Buffer.allocUnsafe(1 << 20);
  for (const f of files) {
    const name = Buffer.from(f.path);
    const header = Buffer.allocUnsafe(2 + name.length + 8);
    header.writeUInt16BE(name.length, 0);
    name.copy(header, 2);
    header.writeBigUInt64BE(BigInt(f.size), 2 + name.length);
    await write(header);
    const handle = await open(f.absolutePath, 'r');
    try {
      for (let offset = 0; offset < f.size; ) {
        const { bytesRead } = await handle.read(piece, 0, Math.min(piece.length, f.size - offset), offset);
        if (bytesRead === 0) throw new Error(`${f.path} shrank while it was copied`);
        // A copy: the socket may still hold the previous piece when the next read fills the buffer.
        await write(Buffer.from(piece.subarray(0, bytesRead)));
        offset += bytesRead;
      }
    } finally {
      await handle.close();
    }
  }
  await write(Buffer.from([0, 0]));
  await acked;
  socket.destroy();
}

/** The receiver: one copy per connection; files are written with plain blocking writes. */
function sink(outDir) {
  const server = createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let fd;
    let left = 0;
    const madeDirs = new Set();
    socket.on('data', (chunk) => {
      buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
      for (;;) {
        if (fd !== undefined) {
          const n = Math.min(left, buffered.length);
          if (n > 0) writeSync(fd, buffered, 0, n);
          buffered = buffered.subarray(n);
          left -= n;
          if (left > 0) return;
          closeSync(fd);
          fd = undefined;
        }
        if (buffered.length < 2) return;
        const nameLength = buffered.readUInt16BE(0);
        if (nameLength === 0) {
          buffered = buffered.subarray(2);
          socket.write(Buffer.from([1]));
          continue;
        }
        if (buffered.length < 2 + nameLength + 8) return;
        const path = join(outDir, buffered.subarray(2, 2 + nameLength).toString());
        left = Number(buffered.readBigUInt64BE(2 + nameLength));
        buffered = buffered.subarray(2 + nameLength + 8);
        const dir = dirname(path);
        if (!madeDirs.has(dir)) {
          mkdirSync(dir, { recursive: true });
          madeDirs.add(dir);
        }
        fd = openSync(path, 'w');
      }
    });
    socket.on('end', () => {
      if (fd !== undefined) closeSync(fd);
      socket.end();
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === 'sink') sink(process.argv[3]);
