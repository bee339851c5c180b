import { loadConfig } from '../compiler/load.js';
import { ConfigError } from '../base/problems.js';
import { defaultRegistry } from '../plugins/index.js';
import { parse, UsageError } from './args.js';
import { chooseConfig } from './config-source.js';

const HELP = `Usage: northgate validate [--config FILE]

Checks a config file (default: ./northgate.yaml, .yml or .json, as for start). Prints
"valid" and exits 0, or prints one line per problem (FILE:LINE:COL PATH: message) and exits 2.
`;

export async function validateCommand(args: string[]): Promise<number> {
  const { values } = parse('validate', args, { config: { type: 'string', short: 'c' } });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const choice = chooseConfig(values.config);
  if (choice.kind === 'embedded') throw new UsageError('no northgate.yaml (or .yml, .json) in this folder: give --config FILE');
  try {
    await loadConfig(choice.file, defaultRegistry());
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stdout.write(err.lines().join('\n') + '\n');
      return 2;
    }
    throw err;
  }
  process.stdout.write('valid\n');
  return 0;
}
