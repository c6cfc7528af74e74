#!/usr/bin/env node
// Finds import cycles between the source files of each package (tests and generated code left out):
// a cycle means two modules each need the other, so neither can be read, tested or moved alone.
// Reads imports with TypeScript's own scanner (type-only imports count: they tie the design too).
//   node scripts/check-cycles.mjs [DIR...]     (default: every package's src/ and proto/src)
// Prints each cycle and exits 1 when there is one.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = process.argv.slice(2).length
  ? process.argv.slice(2).map((d) => resolve(d))
  : [
      join(root, 'proto', 'src'),
      ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'src')),
    ].filter(existsSync);

const isSource = (name) =>
  /\.tsx?$/.test(name) && !/\.(test|spec)\.tsx?$/.test(name) && !name.endsWith('.d.ts');

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'gen' && name !== 'test-utils' && name !== 'node_modules') out.push(...sourceFiles(path));
    } else if (isSource(name)) out.push(path);
  }
  return out;
}

/** The file a relative specifier names ('./x.js' is x.ts or x.tsx; './dir' is dir/index.ts). */
function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier).replace(/\.js$/, '');
  for (const candidate of [`${base}.ts`, `${base}.tsx`, join(base, 'index.ts')]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Strongly connected components of more than one file (or a file importing itself): Tarjan's. */
function cycles(graph) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const found = [];
  const visit = (v) => {
    state.set(v, { index, low: index, onStack: true });
    index += 1;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!state.has(w)) {
        visit(w);
        state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
      } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
    }
    if (state.get(v).low === state.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        state.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!state.has(v)) visit(v);
  return found;
}

let total = 0;
for (const dir of dirs) {
  const graph = new Map();
  for (const file of sourceFiles(dir)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    graph.set(
      file,
      importedFiles.map((i) => resolveImport(file, i.fileName)).filter((f) => f !== undefined),
    );
  }
  const found = cycles(graph);
  total += found.length;
  for (const component of found) {
    console.log(
      `import cycle in ${relative(root, dir)}: ${component.map((f) => relative(dir, f)).join(' <-> ')}`,
    );
  }
  console.log(`${relative(root, dir)}: ${graph.size} files, ${found.length} import cycle(s)`);
}
process.exit(total > 0 ? 1 : 0);
