// Every regular expression written in the config and matched against request data (route
// paths, CORS origins) is compiled here, on RE2: its matching time is linear in the input,
// so no pattern ("(x+)+y") and no request can make it backtrack and stall the event loop.
// RE2 has no backreferences and no lookaround; a pattern that needs them is refused at
// load rather than run on a backtracking engine.
import RE2 from 're2';

/** The compiled pattern, or the message to report at the pattern's config position. */
export function compileConfigRegex(source: string, flags = ''): RE2 | string {
  try {
    return new RE2(source, flags);
  } catch (err) {
    const why = (err as Error).message;
    if (/\\[1-9]|\\k</.test(source)) return `invalid regular expression: backreferences are not supported (patterns run on RE2, in linear time): ${why}`;
    if (/\(\?<?[=!]/.test(source)) return `invalid regular expression: lookahead and lookbehind are not supported (patterns run on RE2, in linear time): ${why}`;
    return `invalid regular expression: ${why}`;
  }
}
