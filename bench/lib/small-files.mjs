// Many small files of random bytes, as the upload and shaped-link suites upload them. Random content
// differs on every call, so a fresh folder is new to the agent's content store.
import { randomFillSync } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

export /** `n` files of 1-8 KiB random bytes in 100 folders, like a small image dataset. */
async function makeSmallFiles(dir, n) {
  let total = 0;
  for (let i = 0; i < n; i++) {
    const folder = join(dir, `class_${String(i % 100).padStart(3, '0')}`);
    if (i < 100) await mkdir(folder, { recursive: true });
    const size = 1024 + Math.floor(Math.random() * 7 * 1024);
    const handle = await open(join(folder, `item_${String(i).padStart(5, '0')}.bin`), 'w');
    await handle.write(randomFillSync(Buffer.allocUnsafe(size)));
    await handle.close();
    total += size;
  }
  return total;
}
