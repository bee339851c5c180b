// node's IncomingMessage and ServerResponse are what the proxy ran on first: they must stay
// assignable to the interfaces the proxy is typed with, and so must the engine's own objects.
// The proof is that this file compiles; the test only makes it part of the run.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { test } from 'node:test';
import type { Http1Request } from '../../src/http1/server-request.js';
import type { Http1Response } from '../../src/http1/server-response.js';
import type { DownstreamRequest, DownstreamResponse } from '../../src/http1/types.js';

export function nodeRequest(m: IncomingMessage): DownstreamRequest {
  return m;
}
export function nodeResponse(r: ServerResponse): DownstreamResponse {
  return r;
}
export function engineRequest(m: Http1Request): DownstreamRequest {
  return m;
}
export function engineResponse(r: Http1Response): DownstreamResponse {
  return r;
}

test('node and engine exchanges satisfy the downstream interfaces (checked by the compiler)', () => {
  assert.equal(typeof nodeRequest, 'function');
});
