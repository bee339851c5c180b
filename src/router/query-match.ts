// Query-parameter conditions of a route (`routes[].query`): the request must carry each named
// parameter with the given value, or with a value the "~REGEX" finds (RE2, searched, so anchor
// it for a whole-value match). Names are compared exactly, after decoding; a repeated
// parameter is read at its first occurrence (what the Gateway API recommends).
import { compileConfigRegex, type ConfigRegex } from '../base/regex.js';

export interface QueryCondition {
  readonly name: string;
  /** The exact value, when `regex` is null. */
  readonly value: string;
  readonly regex: ConfigRegex | null;
}

/** The conditions of a `query` block, or the message for the first pattern that does not compile. */
export function compileQueryConditions(raw: Record<string, string>): QueryCondition[] | { name: string; message: string } {
  const out: QueryCondition[] = [];
  for (const [name, value] of Object.entries(raw)) {
    if (!value.startsWith('~')) {
      out.push({ name, value, regex: null });
      continue;
    }
    const regex = compileConfigRegex(value.slice(1));
    if (typeof regex === 'string') return { name, message: regex };
    out.push({ name, value, regex });
  }
  return out;
}

export function queryConditionHolds(c: QueryCondition, actual: string | undefined): boolean {
  if (actual === undefined) return false;
  return c.regex === null ? actual === c.value : c.regex.search(actual) !== -1;
}

/** Why the condition fails for `actual`, for `northgate explain`. */
export function describeQueryMismatch(c: QueryCondition, actual: string | undefined): string {
  const wants = c.regex === null ? `wants ${JSON.stringify(c.value)}` : `wants a match of ${c.value.slice(1)}`;
  return `query parameter ${c.name} is ${actual === undefined ? 'absent' : JSON.stringify(actual)}, ${wants}`;
}
