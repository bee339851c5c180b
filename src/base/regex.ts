// Every regular expression written in the config and matched against request data (route
// paths, CORS origins) is compiled here, on RE2: its matching time is linear in the input,
// so no pattern ("(x+)+y") and no request can make it backtrack and stall the event loop.
// RE2 has no backreferences and no lookaround; a pattern that needs them is refused at
// load rather than run on a backtracking engine.
import { lazyRequire } from './lazy-require.js';

// A native addon: loaded by the first compile, so that importing the SDK (which exports
// compileConfigRegex) or a config without patterns does not load it.
const re2 = lazyRequire<typeof import('re2')>('re2');

/** A compiled config pattern: the part of RegExp's interface the gateway uses, in linear time. */
export interface ConfigRegex {
  readonly source: string;
  readonly flags: string;
  /** Where the next match starts with the `g` or `y` flag; after a sticky match, its end. */
  lastIndex: number;
  test(input: string): boolean;
  exec(input: string): RegExpExecArray | null;
  /** The index of the first match, -1 without one. */
  search(input: string): number;
}

/** The compiled pattern, or the message to report at the pattern's config position. */
export function compileConfigRegex(source: string, flags = ''): ConfigRegex | string {
  const RE2 = re2();
  try {
    return new RE2(source, flags);
  } catch (err) {
    const why = (err as Error).message;
    if (/\\[1-9]|\\k</.test(source)) return `invalid regular expression: backreferences are not supported (patterns run on RE2, in linear time): ${why}`;
    if (/\(\?<?[=!]/.test(source)) return `invalid regular expression: lookahead and lookbehind are not supported (patterns run on RE2, in linear time): ${why}`;
    return `invalid regular expression: ${why}`;
  }
}
