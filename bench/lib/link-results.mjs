// The shaped-link suite's recorded runs in bench/RESULTS.md: one section per profile, each replaced by
// the next recorded run of that profile (`--link P` without --quick), the rest of the file untouched.

const start = (profile) => `<!-- link:${profile} -->`;
const end = (profile) => `<!-- /link:${profile} -->`;

/** One profile's section: the run, the machine and its load, the table and its notes. */
function section(profile, record, jsonPath, { table, notes }) {
  const m = record.machine;
  const load = (l) => l.map((x) => x.toFixed(1)).join(' / ');
  const rows = record.rows.filter((r) => r.id.startsWith(`link.${profile}.`));
  return [
    start(profile),
    `## Shaped link: ${profile}`,
    '',
    `Run: ${record.date} (\`${record.command}\`, ${Math.round(record.totalSeconds)} s), revision ${m.revision}.`,
    `Machine: ${m.cpu}, ${m.memory} RAM, Linux ${m.kernel}, Node ${m.node}, Python ${m.python ?? '?'}, ` +
      `torch ${m.torch ?? '?'}, fastai ${m.fastai ?? '?'}. ${m.gpu}.`,
    `Load average (1/5/15 min) at the start: ${load(m.loadAverage)}; at the end: ${load(record.loadAverageAtEnd)}.`,
    '',
    table(rows),
    '',
    ...notes(rows),
    '',
    `Raw figures: [${jsonPath}](${jsonPath}).`,
    end(profile),
  ].join('\n');
}

/** `text` (RESULTS.md) with the sections of `record`'s profiles replaced, or added at the end. */
export function withLinkSections(text, record, jsonPath, format) {
  const profiles = [...new Set(record.rows.map((r) => /^link\.([^.]+)\./.exec(r.id)?.[1]).filter(Boolean))];
  let out = text;
  for (const profile of profiles) {
    const fresh = section(profile, record, jsonPath, format);
    const a = out.indexOf(start(profile));
    const b = out.indexOf(end(profile));
    out =
      a >= 0 && b > a
        ? out.slice(0, a) + fresh + out.slice(b + end(profile).length)
        : `${out.trimEnd()}\n\n${fresh}\n`;
  }
  return out;
}

/** The link sections of `text`, to carry over when a full run rewrites RESULTS.md. */
export function linkSectionsOf(text) {
  return [...text.matchAll(/<!-- link:([^ ]+) -->[\s\S]*?<!-- \/link:\1 -->/g)].map((m) => m[0]);
}
