// The gpu-check's one report: sections of checks (ok / FAIL / skip, each with what it saw) and the
// lines shown beside them (raw nvidia-smi rows, doctor's output), as text and as a JUnit file that
// scripts/test-summary.mjs counts.

/** Throws `message` unless `condition` holds: how a check says it failed. */
export function must(condition, message) {
  if (!condition) throw new Error(message);
}

export class Report {
  /** @type {{section: string, name?: string, status?: 'ok'|'fail'|'skip', detail: string}[]} */
  #entries = [];

  constructor(title) {
    this.title = title;
  }

  /** Runs one check: `fn` returns what it saw (ok), or throws why not (FAIL). */
  async check(section, name, fn) {
    process.stderr.write(`gpu-check: ${section}: ${name}\n`);
    try {
      this.#entries.push({ section, name, status: 'ok', detail: String((await fn()) ?? '') });
    } catch (error) {
      this.#entries.push({ section, name, status: 'fail', detail: error?.message ?? String(error) });
    }
  }

  /** A check this run cannot make, and why: counted as skipped, never as passed. */
  skip(section, name, why) {
    this.#entries.push({ section, name, status: 'skip', detail: why });
  }

  /** Context shown in a section without being a check. */
  note(section, text) {
    this.#entries.push({ section, detail: text });
  }

  get failed() {
    return this.#entries.filter((e) => e.status === 'fail').length;
  }

  text() {
    const counts = { ok: 0, fail: 0, skip: 0 };
    const lines = [this.title];
    let section = '';
    for (const e of this.#entries) {
      if (e.section !== section) {
        section = e.section;
        lines.push('', `## ${section}`);
      }
      if (!e.status) {
        lines.push(...e.detail.split('\n').map((l) => `      ${l}`));
        continue;
      }
      counts[e.status]++;
      const mark = { ok: 'ok  ', fail: 'FAIL', skip: 'skip' }[e.status];
      const [first, ...rest] = e.detail.split('\n');
      lines.push(`${mark}  ${e.name}: ${first}`, ...rest.map((l) => `      ${l}`));
    }
    lines.push('', `${counts.ok} ok, ${counts.fail} failed, ${counts.skip} skipped`);
    return `${lines.join('\n')}\n`;
  }

  junit() {
    const checks = this.#entries.filter((e) => e.status);
    const esc = (s) =>
      s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
    const cases = checks.map((e) => {
      const name = esc(`${e.section}: ${e.name}`);
      if (e.status === 'ok') return `  <testcase name="${name}"/>`;
      const tag = e.status === 'fail' ? 'failure' : 'skipped';
      return `  <testcase name="${name}"><${tag} message="${esc(e.detail)}"/></testcase>`;
    });
    const n = (s) => checks.filter((e) => e.status === s).length;
    return `<testsuite name="gpu-check" tests="${checks.length}" failures="${n('fail')}" skipped="${n('skip')}">\n${cases.join('\n')}\n</testsuite>\n`;
  }
}
