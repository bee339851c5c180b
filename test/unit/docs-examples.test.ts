// Every config example in README.md and docs/ is checked: a ```yaml block with a top-level
// `_format_version` is a whole config and must pass `northgate validate` (environment
// variables it names get a placeholder value). A block of config keys without it is a
// fragment and must say so in its info string (```yaml fragment), so that a whole example
// cannot silently rot into one. Blocks that are not Northgate configs (a Prometheus scrape
// config) are recognised by their keys and left alone.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfigText } from '../../src/compiler/load.js';
import { ConfigError } from '../../src/base/problems.js';
import { buildConfigSchema } from '../../src/compiler/schema.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { ROOT } from '../helpers/servers.js';

interface Block {
  where: string;
  info: string[];
  text: string;
}

function yamlBlocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S+)(.*)$/.exec(lines[i]!);
    if (open === null) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    if (open[1] === 'yaml') blocks.push({ where: `${file}:${i + 1}`, info: open[2]!.trim().split(/\s+/).filter(Boolean), text: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const registry = defaultRegistry();
const configKeys = new Set(Object.keys((buildConfigSchema(registry.all()) as { properties: object }).properties));

test('every whole config example in README.md and docs/ is valid; fragments are marked', () => {
  const failures: string[] = [];
  let whole = 0;
  for (const file of docs) {
    for (const block of yamlBlocks(file)) {
      if (block.info.includes('fragment')) continue;
      let doc: unknown;
      try {
        doc = parse(block.text);
      } catch (err) {
        failures.push(`${block.where}: not YAML (${(err as Error).message.split('\n')[0]})`);
        continue;
      }
      const keys = doc !== null && typeof doc === 'object' && !Array.isArray(doc) ? Object.keys(doc) : [];
      if (keys.length === 0 || !keys.every((k) => configKeys.has(k))) continue; // not a Northgate config
      if (!keys.includes('_format_version')) {
        failures.push(`${block.where}: a config fragment without _format_version: make it a whole config, or mark it \`\`\`yaml fragment`);
        continue;
      }
      whole++;
      const env: NodeJS.ProcessEnv = {};
      for (const m of block.text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) env[m[1]!] = 'placeholder-secret-0123456789abcdef';
      try {
        loadConfigText(block.where, block.text, registry, env);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        failures.push(...err.lines());
      }
    }
  }
  assert.deepEqual(failures, []);
  assert.ok(whole >= 2, `whole configs checked: ${whole}`);
});
