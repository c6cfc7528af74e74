// `gpulink jobs --watch`: in a terminal, the list redrawn in place (alternate screen, no full clear)
// until q or Ctrl-C; piped, as `kubectl get -w`: the list once, then a line (or JSON object) for each
// job that appears or changes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobInfo } from '@gpulink/sdk';
import { listingLines } from '../view/listing.js';
import { jobListing } from '../view/listings.js';
import { outputMode, printJson, printLine } from './context.js';
import { type ListingOptions, listingFormat } from './listing.js';

/** What a piped watch reports a change of: a job's age alone ticking is no change. */
const changeKey = (j: JobInfo) =>
  JSON.stringify([j.state, j.completedEpochs, j.totalEpochs, j.lastEpoch?.metrics, j.artifacts.length]);

export async function watchJobList(
  list: () => Promise<JobInfo[]>,
  options: ListingOptions & { interval: number },
  signal: AbortSignal,
): Promise<void> {
  const format = listingFormat(options);
  const interactive = outputMode(options) === 'interactive' && format !== 'json' && format !== 'ids';
  const stop = new AbortController();
  const quit = () => stop.abort();
  signal.addEventListener('abort', quit, { once: true });
  const release = interactive ? takeTerminal(quit) : () => undefined;
  const seen = new Map<string, string>();
  try {
    for (let first = true; !stop.signal.aborted; first = false) {
      const jobs = await list();
      if (interactive) {
        const header = `every ${options.interval / 1000}s, ${new Date().toLocaleTimeString()}   q quits`;
        const width = process.stdout.columns || 80;
        const height = process.stdout.rows || 24;
        // Cut to the screen, so that no line wraps and the frame never scrolls.
        const lines = [header, '', ...listingLines(jobs, jobListing, format)]
          .slice(0, height - 1)
          .map((l) => l.slice(0, width));
        // Home, each line over the last frame's, then clear what is left below: no flicker.
        process.stdout.write(`\x1b[H${lines.map((l) => `${l}\x1b[K`).join('\n')}\n\x1b[J`);
      } else {
        const changed = jobs.filter((j) => seen.get(j.id) !== changeKey(j)).reverse();
        for (const j of changed) seen.set(j.id, changeKey(j));
        if (format === 'json') for (const j of changed) printJson(j);
        else if (format === 'ids') for (const j of changed) printLine(j.id);
        else if (changed.length > 0) {
          const lines = listingLines(changed, jobListing, format);
          for (const line of first ? lines : lines.slice(1)) printLine(line);
        } else if (first) printLine(jobListing.empty);
      }
      await sleep(options.interval, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    signal.removeEventListener('abort', quit);
    release();
  }
}

/**
 * The alternate screen and raw keys while the list is shown: q quits, and Ctrl-C (a key in raw mode,
 * not a signal) ends it as the signal would, so the command exits 130 as any interrupted one does.
 * Returns what gives the terminal back.
 */
function takeTerminal(quit: () => void): () => void {
  const onKey = (data: Buffer) => {
    const key = data.toString();
    if (key === '\x03') process.kill(process.pid, 'SIGINT');
    else if (key === 'q' || key === 'Q') quit();
  };
  process.stdout.write('\x1b[?1049h\x1b[?25l');
  process.stdin.setRawMode(true);
  process.stdin.on('data', onKey);
  process.stdin.resume();
  return () => {
    process.stdin.off('data', onKey);
    process.stdin.setRawMode(false);
    process.stdin.pause();
    process.stdout.write('\x1b[?25h\x1b[?1049l');
  };
}
