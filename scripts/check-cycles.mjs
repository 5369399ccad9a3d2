#!/usr/bin/env node
// Fails when source files of the packages import each other in a circle, type-only imports
// and re-exports included (ARCHITECTURE.md: every import runs down). Reads packages/*/src with
// TypeScript's own import scanner; '@cpgkit/<pkg>[/<entry>]' resolves to the package's source.
// Usage: node scripts/check-cycles.mjs
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const packages = readdirSync(join(root, 'packages')).filter((p) =>
  existsSync(join(root, 'packages', p, 'package.json')),
);

/** '@cpgkit/core/testing' -> the file its '@cpgkit/source' export condition names. */
const entries = new Map();
for (const p of packages) {
  const dir = join(root, 'packages', p);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  for (const [sub, target] of Object.entries(pkg.exports ?? {})) {
    const src = typeof target === 'object' ? target['@cpgkit/source'] : undefined;
    if (src) entries.set(join(pkg.name, sub), join(dir, src));
  }
}

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return files(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function resolveImport(from, spec) {
  if (spec.startsWith('.')) {
    const base = resolve(dirname(from), spec).replace(/\.js$/, '');
    for (const c of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(c)) return c;
    return undefined;
  }
  return entries.get(spec);
}

const graph = new Map();
for (const p of packages) {
  const src = join(root, 'packages', p, 'src');
  if (!existsSync(src)) continue;
  for (const file of files(src)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps = importedFiles.map((i) => resolveImport(file, i.fileName)).filter(Boolean);
    graph.set(file, [...new Set(deps)]);
  }
}

// Tarjan's strongly connected components: every component of more than one file is a circle.
let next = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const circles = [];
function visit(v) {
  index.set(v, next);
  low.set(v, next++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      visit(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const scc = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) circles.push(scc);
  }
}
for (const v of graph.keys()) if (!index.has(v)) visit(v);

if (circles.length === 0) {
  console.log(`no import circles among ${graph.size} source files`);
} else {
  for (const c of circles)
    console.error(`import circle: ${c.map((f) => relative(root, f)).join(' <-> ')}`);
  process.exit(1);
}
