// Which config `start` runs: --config FILE, else ./northgate.yaml, else the embedded default.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type ConfigChoice = { kind: 'file'; file: string } | { kind: 'embedded' };

export function chooseConfig(flag: string | undefined, cwd = process.cwd()): ConfigChoice {
  // Kept as typed, so that problems read FILE:LINE:COL exactly as `validate` prints them.
  if (flag !== undefined) return { kind: 'file', file: flag };
  for (const name of ['northgate.yaml', 'northgate.yml', 'northgate.json']) {
    const file = join(cwd, name);
    if (existsSync(file)) return { kind: 'file', file };
  }
  return { kind: 'embedded' };
}
