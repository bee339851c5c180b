// Response header names: the Buffer form (undici) and the string form (the native engine's
// parser) give the same interned lower-case names for the common ones, and other names as sent.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headerName, headerNameOf } from '../../src/proxy/header-names.js';

test('common names in any case come back as the same interned lower-case string from bytes and from text', () => {
  for (const sent of ['Content-Type', 'content-type', 'CONTENT-TYPE', 'Connection', 'X-Request-Id', 'Transfer-Encoding', 'keep-alive', 'TE', 'Set-Cookie']) {
    const lower = sent.toLowerCase();
    assert.equal(headerNameOf(sent), lower);
    assert.equal(headerName(Buffer.from(sent, 'latin1')), lower);
  }
});

test('other names keep their case, and a name one letter off a common one is not taken for it', () => {
  for (const sent of ['X-Custom', 'content-typf', 'Conection', 'x-request-ie', 'Keep_Alive', 'T-E']) {
    assert.equal(headerNameOf(sent), sent);
    assert.equal(headerName(Buffer.from(sent, 'latin1')), sent);
  }
});
