// A real HTTP server that records every request whole (the upstreams and mirrors of the mirror
// tests), and a bounded wait for what it records.
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { startUpstream, type Upstream } from './servers.js';

export interface Seen {
  method: string;
  url: string;
  host: string;
  body: string;
  headers: IncomingHttpHeaders;
}

export interface Recorder extends Upstream {
  readonly seen: Seen[];
  /** Answers the requests `hold` kept unanswered. */
  release(): void;
}

/**
 * Records each request once its body ended, then answers `reply` (default "ok"), or as `answer`
 * writes it; `hold` keeps every request unanswered until release().
 */
export async function recorder(opts: { hold?: boolean; reply?: string; answer?: (res: ServerResponse) => void } = {}): Promise<Recorder> {
  const seen: Seen[] = [];
  const held: Array<() => void> = [];
  const server = await startUpstream((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, host: req.headers.host!, body: Buffer.concat(chunks).toString(), headers: req.headers });
      const answer = () => (opts.answer !== undefined ? opts.answer(res) : res.end(opts.reply ?? 'ok'));
      if (opts.hold) held.push(answer);
      else answer();
    });
  });
  return Object.assign(server, { seen, release: () => held.splice(0).forEach((f) => f()) });
}

/** Waits (bounded: 10 s in 20 ms steps) until `done()`; fails with `what` otherwise. */
export async function until(done: () => boolean, what: string | (() => string)): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(done(), typeof what === 'string' ? what : what());
}
