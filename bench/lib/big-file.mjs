// One large file of random bytes for the suites that move data: incompressible, and unknown to the agent.
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;

/** One file of random bytes (incompressible, and unknown to the agent). */
export async function makeBigFile(path, size) {
  const handle = await open(path, 'w');
  try {
    const block = Buffer.allocUnsafe(16 * MiB);
    for (let written = 0; written < size; ) {
      const n = Math.min(block.length, size - written);
      randomFillSync(block, 0, n);
      await handle.write(block, 0, n);
      written += n;
    }
  } finally {
    await handle.close();
  }
}
