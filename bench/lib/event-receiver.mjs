// What the event suites read from the fixture emit_events.py: its numbered, timestamped `log` lines
// ("bench <i> <epoch ms>"), counted in order with their latency from the write.
import { epochMs, now } from './figures.mjs';

const BENCH_LINE = /^bench (\d+) ([\d.]+)$/;

/** Receives bench events in order; checks that none is lost or repeated. */
export function receiver() {
  const r = { n: 0, first: Number.NaN, last: Number.NaN, latencies: [], outOfOrder: 0 };
  r.take = (text) => {
    const m = BENCH_LINE.exec(text);
    if (!m) return;
    const at = now();
    r.latencies.push(epochMs() - Number(m[2]));
    if (Number(m[1]) !== r.n) r.outOfOrder++;
    if (r.n === 0) r.first = at;
    r.last = at;
    r.n++;
  };
  r.perSecond = () => (r.n - 1) / ((r.last - r.first) / 1000);
  return r;
}

/** The writer's own rate, from its closing "BENCH wrote N SECONDS" line; undefined for other lines. */
export function producerRate(text) {
  const m = /^BENCH wrote (\d+) ([\d.]+)/.exec(text);
  return m ? Number(m[1]) / Number(m[2]) : undefined;
}
