// The table-driven header checks of the HTTP/1.1 engine agree with the rules they replace
// (RFC 9110 tchar for names; no control byte but HTAB, nothing above 0xff, in values).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isToken, isValidHeaderValue } from '../../src/http1/header-checks.js';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

test('every character from 0 to 0x2ff is judged as the regular expressions judge it, alone and inside a field', () => {
  for (let c = 0; c < 0x300; c++) {
    const ch = String.fromCharCode(c);
    for (const s of [ch, `x-${ch}`, `${ch}abc`, `ab${ch}c`]) {
      assert.equal(isToken(s), TOKEN.test(s), `name ${JSON.stringify(s)}`);
      assert.equal(isValidHeaderValue(s), !BAD_VALUE.test(s), `value ${JSON.stringify(s)}`);
    }
  }
});

test('an empty name is no token; an empty value is valid; CR, LF and NUL anywhere in a value are refused', () => {
  assert.equal(isToken(''), false);
  assert.equal(isValidHeaderValue(''), true);
  for (const bad of ['a\r\nx-injected: 1', 'a\nb', 'a\0b', 'a\x7fb', 'caf\u0100']) assert.equal(isValidHeaderValue(bad), false, JSON.stringify(bad));
  assert.equal(isValidHeaderValue('a\tb caf\u00e9'), true);
});
