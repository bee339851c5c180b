// Flag parsing on node:util's parseArgs, with a hint for unknown flags.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../base/problems.js';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;
/** Spelled out so that the declaration emit can name it (node's option types are not exported). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean'; short: 'h' } }; allowPositionals: boolean; strict: true }>>;

export function parse<O extends Options>(command: string, args: string[], options: O, allowPositionals = false): Parsed<O> {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
  } catch (err) {
    const message = (err as Error).message;
    const m = /Unknown option '(-{1,2}[^']+)'/.exec(message);
    if (m) {
      const flag = m[1]!.replace(/^-+/, '');
      const hint = didYouMean(flag, Object.keys(options));
      throw new UsageError(`unknown flag ${m[1]} for "northgate ${command}"${hint ? ` (did you mean --${hint}?)` : ''}; see northgate ${command} --help`);
    }
    throw new UsageError(`${message.split('\n')[0]}; see northgate ${command} --help`);
  }
}
