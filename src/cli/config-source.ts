// Which config `start` runs: --config FILE, else ./northgate.yaml, else the embedded default.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export type ConfigChoice = { kind: 'file'; file: string } | { kind: 'embedded' };

export function chooseConfig(flag: string | undefined, cwd = process.cwd()): ConfigChoice {
  if (flag !== undefined) return { kind: 'file', file: resolve(cwd, flag) };
  for (const name of ['northgate.yaml', 'northgate.yml', 'northgate.json']) {
    const file = resolve(cwd, name);
    if (existsSync(file)) return { kind: 'file', file };
  }
  return { kind: 'embedded' };
}
