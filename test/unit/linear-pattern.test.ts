// The check that lets a schema pattern skip RE2: attack patterns (nested, adjacent or
// overlapping quantifiers, unanchored starts, groups, lookaround) are refused; the patterns it
// accepts match like RE2 and take a number of backtracking steps linear in the input, counted
// on a model of a backtracking matcher over every short pattern of a small alphabet.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { isLinearPattern } from '../../src/base/linear-pattern.js';

const RE2 = createRequire(import.meta.url)('re2') as new (source: string, flags?: string) => { test(s: string): boolean };

describe('isLinearPattern', () => {
  test('refuses the attack patterns and whatever it cannot prove', () => {
    const refused = [
      '^(a+)+$', // nested quantifiers
      '^(a|aa)+$', // alternation under a quantifier
      '^(\\w+-?)*$',
      '^\\d+\\d+$', // adjacent quantifiers over the same characters: quadratic
      '^.*.*x$', // cubic
      '^[a-z]+[a-z0-9]*$', // overlapping sets
      '^a*a$',
      '^a?a$',
      '^a{1,5}a$',
      '^[\\w.-]+@[\\w.-]+\\.\\w+$', // the classic e-mail pattern: "." is in both the class and the next item
      '^a*b?a$', // the overlap is past an optional item
      '^\\s*\\S*x$', // \S and x overlap
      'a+b', // unanchored: tried again from every start (quadratic)
      '[A-Z]+$',
      '^a+?b', // lazy
      '^a**', // quantifier on a quantifier
      '^(?=a)a', // lookahead
      '^(a)\\1', // backreference
      '^a|b', // alternation
      '^ab\\b', // word boundary
      '^\\p{L}+$', // property escape
      '^a$b', // "$" inside
      '^a^', // "^" inside
      '^[[a]]', // nested class
      '^\\cA',
      '^a{1001}',
      '^[z-a]',
      '^x{2,1}',
      '^a]',
      '^a{',
      '^\\uD83D\\uDE00+', // one code point under `u`
      '',
    ];
    for (const p of refused) assert.equal(isLinearPattern(p, 'u'), false, p);
    // Without `u` a class holds UTF-16 code units; other flags change what matches.
    for (const flags of ['', 'i', 'm', 's', 'g', 'y', 'ui', 'v']) assert.equal(isLinearPattern('^[A-Z]+$', flags), false, flags);
  });

  test('accepts the usual field patterns', () => {
    const accepted = [
      '^[A-Z]+-[0-9]+$',
      '^[A-Za-z0-9-]{8,64}$',
      '^[0-9]{12,19}$',
      '^[a-z-]+$',
      '^\\d{3}-\\d{4}$',
      '^[a-z0-9._%+-]+@[a-z0-9.-]+$',
      '^[^@\\s]+@[^@\\s]+$',
      '^\\+?[0-9]{7,15}$',
      '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$',
      '^v[0-9]+\\.[0-9]+$',
      '^\\/api\\/v1',
      '^\\u00e9+x$',
      '^\\u{1F600}?[a-z]$',
      '^[\\x41-\\x5A]+\\.$',
      '^.*$',
      '^a*b*c*$',
      '^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$',
      '^',
    ];
    for (const p of accepted) assert.equal(isLinearPattern(p, 'u'), true, p);
  });

  test('an accepted pattern matches as RE2 does', () => {
    const patterns = ['^[A-Z]+-[0-9]+$', '^[A-Za-z0-9-]{8,64}$', '^\\d{3}-\\d{4}$', '^[a-z0-9._%+-]+@[a-z0-9.-]+$', '^[^@]+@[^@]+$', '^\\u00e9+x$', '^[^a-z]*a', '^\\w+-\\W'];
    const inputs = ['A-1', 'AB-12', 'a-1', 'A-', '-1', 'A-1x', '', '555-1234', '55-1234', 'abcdefgh', 'abc', 'x'.repeat(65), 'ada@example.com', 'a@b@c', 'ééx', 'éx', 'x', '😀a', '😀😀a', 'a', 'AB9Z', '123Z', 'ab-!', 'ab-c', 'ÀZa', 'Z9a', '\uD800a'];
    for (const p of patterns) {
      assert.equal(isLinearPattern(p, 'u'), true, p);
      const js = new RegExp(p, 'u');
      const re2 = new RE2(p, 'u');
      for (const s of inputs) assert.equal(js.test(s), re2.test(s), `${p} on ${JSON.stringify(s)}`);
    }
  });

  // A backtracking matcher for a flat item sequence, counting its steps: greedy items take
  // as many characters as they can, then give them back one at a time (as V8's loops do).
  interface ModelItem {
    chars: string;
    min: number;
    max: number;
  }
  function steps(items: ModelItem[], end: boolean, input: string): number {
    let count = 0;
    const match = (i: number, pos: number): boolean => {
      count++;
      if (i === items.length) return !end || pos === input.length;
      const it = items[i]!;
      let n = 0;
      while (n < it.max && pos + n < input.length && it.chars.includes(input[pos + n]!)) {
        n++;
        count++;
      }
      for (let k = n; k >= it.min; k--) if (match(i + 1, pos + k)) return true;
      return false;
    };
    match(0, 0);
    return count;
  }

  test('every accepted pattern of up to three items over {a, b, c} backtracks a linear number of steps', () => {
    const atoms: Array<[string, string]> = [
      ['a', 'a'],
      ['b', 'b'],
      ['[ab]', 'ab'],
      ['[^a]', 'bc'],
      ['.', 'abc'],
    ];
    const quantifiers: Array<[string, number, number]> = [
      ['', 1, 1],
      ['?', 0, 1],
      ['*', 0, Infinity],
      ['+', 1, Infinity],
      ['{2,3}', 2, 3],
    ];
    const n = 200;
    let seed = 7;
    const random = (): string => {
      let s = '';
      for (let i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        s += 'abc'[seed % 3];
      }
      return s;
    };
    const inputs = ['a'.repeat(n), 'b'.repeat(n), 'c'.repeat(n), 'a'.repeat(n) + 'c', 'b'.repeat(n) + 'a', 'ab'.repeat(n / 2), 'ab'.repeat(n / 2) + 'c', 'a'.repeat(n / 2) + 'b'.repeat(n / 2) + 'a', 'b'.repeat(n / 2) + 'a'.repeat(n / 2) + 'b', random(), random()];
    const choices: Array<[string, ModelItem]> = [];
    for (const [src, chars] of atoms) for (const [q, min, max] of quantifiers) choices.push([src + q, { chars, min, max }]);
    let accepted = 0;
    let refused = 0;
    const sequences: Array<Array<[string, ModelItem]>> = [];
    for (const a of choices) {
      sequences.push([a]);
      for (const b of choices) {
        sequences.push([a, b]);
        for (const c of choices) sequences.push([a, b, c]);
      }
    }
    for (const seq of sequences) {
      for (const end of [false, true]) {
        const source = '^' + seq.map(([s]) => s).join('') + (end ? '$' : '');
        if (!isLinearPattern(source, 'u')) {
          refused++;
          continue;
        }
        accepted++;
        const items = seq.map(([, it]) => it);
        const bound = 8 * (items.length + 1) * (n + 2);
        for (const input of inputs) {
          const taken = steps(items, end, input);
          assert.ok(taken <= bound, `${source} on ${input.slice(0, 12)}…: ${taken} steps > ${bound}`);
        }
      }
    }
    assert.ok(accepted > 1000 && refused > 1000, `${accepted} accepted, ${refused} refused`);
    // The model does tell: a refused pattern with overlapping items goes past the bound.
    const over = steps(
      [
        { chars: 'a', min: 0, max: Infinity },
        { chars: 'a', min: 0, max: Infinity },
      ],
      true,
      'a'.repeat(n) + 'c',
    );
    assert.ok(over > 8 * 3 * (n + 2), `^a*a*$: ${over} steps`);
    assert.equal(isLinearPattern('^a*a*$', 'u'), false);
  });
});
