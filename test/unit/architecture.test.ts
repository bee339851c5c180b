// The layers of src/ (docs/architecture.md) and the rules that keep imports flowing one
// way. Every relative import counts, type-only and dynamic ones included: a type import is
// ownership, and a lazy import is still a dependency.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { channelDeclarations, channelsOf, importGraph, importsOf, LAYERS, layerOf, moduleOf, SRC_DIR, type ImportEdge } from '../helpers/import-graph.js';

const all = importGraph();
/** Files that import what the operator names (the config's `extensions:`): their computed imports are the point. */
const LOADERS = new Set(['compiler/extensions.ts']);
const edges = all.filter((e) => e.refused === null);

function show(list: ImportEdge[]): string {
  return list.map((e) => `  ${e.from}:${e.line} imports ${e.to}`).join('\n');
}

test('the graph is read: every layer has files and the imports resolve', () => {
  assert.ok(edges.length > 200, `only ${edges.length} imports found`);
  const missing = edges.filter((e) => e.missing);
  assert.deepEqual(missing, [], `imports of files that do not exist:\n${show(missing)}`);
  for (const layer of LAYERS.flat()) assert.ok(edges.some((e) => moduleOf(e.from).split('/')[0] === layer), `no file in src/${layer} imports anything`);
  const unplaced = [...new Set(edges.map((e) => moduleOf(e.from).split('/')[0]!))].filter((m) => layerOf(m + '/x.ts') === LAYERS.length);
  assert.deepEqual(unplaced, [], 'folders of src/ that no layer names');
});

test('every import names a file of src/ or a package: no computed specifier, no import of the package by its own name', () => {
  const refused = all.filter((e) => e.refused !== null && !(LOADERS.has(e.from) && e.to === '(computed specifier)'));
  assert.deepEqual(refused, [], show(refused));
});

test('imports go down the layers, never up', () => {
  const up = edges.filter((e) => layerOf(e.to) > layerOf(e.from));
  assert.deepEqual(up, [], `imports of a higher layer:\n${show(up)}`);
});

test('no import cycle spans two folders of src/', () => {
  // Folders at the same layer may import each other only one way: find cycles among them.
  const next = new Map<string, Set<string>>();
  for (const e of edges) {
    const a = moduleOf(e.from);
    const b = moduleOf(e.to);
    if (a === b) continue;
    if (!next.has(a)) next.set(a, new Set());
    next.get(a)!.add(b);
  }
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string): void => {
    state.set(m, 'open');
    stack.push(m);
    for (const n of next.get(m) ?? []) {
      if (state.get(n) === 'open') cycles.push([...stack.slice(stack.indexOf(n)), n].join(' → '));
      else if (!state.has(n)) visit(n);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...next.keys()].sort()) if (!state.has(m)) visit(m);
  const detail = cycles.map((c) => {
    const hops = c.split(' → ');
    const examples = hops.slice(1).map((to, i) => edges.find((e) => moduleOf(e.from) === hops[i] && moduleOf(e.to) === to)!);
    return `${c}\n${show(examples)}`;
  });
  assert.deepEqual(detail, [], `import cycles between folders:\n${detail.join('\n')}`);
});

test('built-in plugins import only the SDK, the shared base and their own folder', () => {
  const bad = edges.filter((e) => {
    const from = moduleOf(e.from);
    if (!from.startsWith('plugins/') || e.from === 'plugins/index.ts') return false;
    const to = moduleOf(e.to);
    return to !== from && to !== 'sdk' && to !== 'base';
  });
  assert.deepEqual(bad, [], `plugins importing internals:\n${show(bad)}`);
});

test('upstream/ and router/ never import proxy/', () => {
  const bad = edges.filter((e) => /^(upstream|router)\//.test(e.from) && e.to.startsWith('proxy/'));
  assert.deepEqual(bad, [], show(bad));
});

test('diagnostics channels are declared in base/events.ts only', () => {
  const bad = channelDeclarations().filter((d) => d.file !== 'base/events.ts');
  assert.deepEqual(bad, [], 'channel() called outside base/events.ts');
});

test('the reader sees every way of importing (the rules cannot be slipped past by syntax)', () => {
  const file = join(SRC_DIR, 'plugins/acl/slip.ts');
  const text = [
    "import x = require('../../proxy/route.js');",
    "import { createRequire } from 'node:module';",
    "import{channel}from'node:diagnostics_channel';",
    "export const a = createRequire(import.meta.url)('../../proxy/context.js');",
    'export const b = import(`../../proxy/handler.js`);',
    "export const c = import('../../proxy/reply.js', { with: {} });",
    "export const d = import('northgate/sdk');",
    "export type Y = import('../../compiler/snapshot.js').Snapshot;",
    "export type { Z } from '../../router/router.js';",
    'const N = "x"; export const e = import(N); export const f = channel(N);',
  ].join('\n');
  const seen = importsOf(file, text).map((e) => `${e.line} ${e.refused === null ? e.to : e.refused}`);
  assert.deepEqual(seen, [
    '1 proxy/route.ts',
    '4 proxy/context.ts',
    '5 proxy/handler.ts',
    '6 proxy/reply.ts',
    '7 the package imports itself by name',
    '8 compiler/snapshot.ts',
    '9 router/router.ts',
    '10 a specifier that is not a string literal',
  ]);
  assert.deepEqual(channelsOf(file, text).map((c) => c.line), [10]);
});
