#!/usr/bin/env node
// The dashboard in tmux at several sizes, against the agent the environment points at (the profile,
// or GPULINK_URL): per size, no captured line is wider than the pane (a wrapped line joins up longer
// with -J), the frame leaves the last row free, and the raw output after the first frame holds no
// full clear (ESC[2J, ESC[3J). Captures of each screen (main, help, job opened, log) are written to
// OUT_DIR. Exit 1 when a check fails.
//
//   node packages/cli/scripts/dashboard-check.mjs [OUT_DIR] [WxH ...]   (default 80x24 120x40 200x60)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const [outDir = 'dashboard-check', ...sizeArgs] = process.argv.slice(2);
const sizes = (sizeArgs.length ? sizeArgs : ['80x24', '120x40', '200x60']).map((s) =>
  s.split('x').map(Number),
);
mkdirSync(outDir, { recursive: true });
// A tmux server of its own, so no other session is touched; it gets this environment (the profile's folders).
const tmux = (...args) =>
  execFileSync('tmux', ['-L', `gpulink-check-${process.pid}`, ...args], { encoding: 'utf8' });
const envPrefix = ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'GPULINK_URL', 'HOME', 'PATH']
  .filter((k) => process.env[k])
  .map((k) => `${k}=${JSON.stringify(process.env[k])}`)
  .join(' ');
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC[2J / ESC[3J are what it counts
const CLEARS = /\x1b\[[23]J/g;

let failed = false;
for (const [w, h] of sizes) {
  const session = `gpulink-check-${w}x${h}-${process.pid}`;
  const raw = join(outDir, `raw-${w}x${h}.log`);
  writeFileSync(raw, '');
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(w),
    '-y',
    String(h),
    `sleep 0.5; exec env ${envPrefix} TERM=xterm-256color node ${bin} 2>${raw}.stderr`,
  );
  tmux('pipe-pane', '-t', session, '-o', `cat >> ${raw}`);
  try {
    await sleep(10000);
    const screens = {};
    const capture = () => tmux('capture-pane', '-p', '-J', '-t', session).replace(/\n+$/, '').split('\n');
    screens.main = capture();
    const key = async (...k) => {
      tmux('send-keys', '-t', session, ...k);
      await sleep(800);
    };
    await key('?');
    screens.help = capture();
    await key('Escape');
    await key('Enter');
    screens.job = capture();
    await key('l');
    await sleep(1500);
    screens.log = capture();
    await key('PPage');
    screens['log-page-up'] = capture();
    await key('q');
    await sleep(500);
    for (const [name, lines] of Object.entries(screens)) {
      writeFileSync(join(outDir, `${w}x${h}-${name}.txt`), `${lines.join('\n')}\n`);
      const wide = lines.filter((l) => [...l].length > w);
      const used = lines.length;
      if (wide.length || used > h - 1) {
        failed = true;
        console.log(`${w}x${h} ${name}: ${wide.length} line(s) wider than ${w}, ${used} rows used`);
      }
    }
    const text = readFileSync(raw, 'latin1');
    // The first frame starts after the alternate screen is entered; what follows is updates.
    const start = text.indexOf('\x1b[?1049h');
    const clears = (text.slice(start < 0 ? 0 : start + 8).match(CLEARS) ?? []).length;
    const frames = (text.match(/gpulink/g) ?? []).length;
    console.log(
      `${w}x${h}: ${text.length} bytes of output, ${frames} header draws, ${clears} full clear(s) after the first frame`,
    );
    if (clears > 0) failed = true;
  } finally {
    // `q` ended the dashboard, and with it the session, unless a step failed before.
    try {
      tmux('kill-session', '-t', session);
    } catch {}
  }
}
try {
  tmux('kill-server');
} catch {}
process.exit(failed ? 1 : 0);
