// Interim (1xx) answers. From the upstream, before its final one: a 103 Early Hints is
// passed on to the client (its Link fields only, a bounded number of times); 100 and 102
// are for the gateway, not the client, and are skipped; the final answer always follows.
// To the client: the gateway itself answers `Expect: 100-continue`, with a 100 only once
// the request passed its checks and plugins (a refusal comes before the body is sent).
// See docs/protocols.md ("Interim responses", "Expect: 100-continue").
import type { RequestContext } from './context.js';
import { headerName } from './header-names.js';

/** 103s relayed per upstream attempt; later ones are dropped (an upstream sending thousands must not cost thousands of client writes). */
export const MAX_EARLY_HINTS = 4;

/**
 * One link-value as node's writeEarlyHints accepts it: `<uri>` then `; param` or `; param=value`
 * (value a token or a quoted string). The same rule node applies, checked here so that one odd
 * link drops itself rather than the whole hint.
 */
const LINK_VALUE = /^<[^>]*>(?:\s*;\s*[^;"\s]+(?:=(")?[^;"\s]*\1)?)*$/;

/** Relays a 103's Link fields to the client; false when nothing was written. */
export function relayEarlyHints(ctx: RequestContext, rawHeaders: Buffer[]): boolean {
  const req = ctx.req;
  // RFC 9110 §15.2: no 1xx to an HTTP/1.0 client.
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return false;
  if (ctx.res.headersSent || ctx.res.destroyed) return false;
  let links: string[] | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (headerName(rawHeaders[i]!) !== 'link') continue;
    for (const link of splitLinks(rawHeaders[i + 1]!.toString('latin1'))) if (LINK_VALUE.test(link)) (links ??= []).push(link);
  }
  if (links === null) return false;
  try {
    ctx.res.writeEarlyHints({ link: links });
  } catch {
    // node refused a value the pattern let through: the hint is dropped, the answer still comes.
    return false;
  }
  return true;
}

/** The link-values of one Link field: split at commas outside `<…>` and quoted strings. */
export function splitLinks(field: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inUri = false;
  let inQuote = false;
  for (let i = 0; i < field.length; i++) {
    const c = field.charCodeAt(i);
    if (inQuote) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuote = false;
    } else if (inUri) {
      if (c === 62 /* > */) inUri = false;
    } else if (c === 60 /* < */) inUri = true;
    else if (c === 34) inQuote = true;
    else if (c === 44 /* , */) {
      const part = field.slice(start, i).trim();
      if (part !== '') out.push(part);
      start = i + 1;
    }
  }
  const last = field.slice(start).trim();
  if (last !== '') out.push(last);
  return out;
}

/**
 * Reads the client's Expect field (RFC 9110 §10.1.1); false when it holds an expectation the
 * gateway cannot meet (answered 417). The only one it knows is 100-continue: with a body,
 * the 100 is sent by sendContinue when the body is about to be read. An HTTP/1.0 client's
 * expectations are ignored, as the RFC requires for 100-continue (and node does for all).
 */
export function acceptExpectation(ctx: RequestContext, expect: string): boolean {
  const req = ctx.req;
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) return true;
  let wantsContinue = false;
  for (const member of expect.split(',')) {
    const m = member.trim();
    if (m === '') continue;
    if (m.toLowerCase() !== '100-continue') return false;
    wantsContinue = true;
  }
  // A request without a body has nothing to wait for (RFC 9110 §10.1.1: the 100 may be left out).
  if (wantsContinue && (ctx.requestBodyLength > 0 || ctx.requestChunked)) ctx.expectContinue = true;
  return true;
}

/** The client waits for a 100 before it sends its body: the gateway is about to read it. Once. */
export function sendContinue(ctx: RequestContext): void {
  // Once, and only for a client that asked (plugins may call it unconditionally).
  if (!ctx.expectContinue) return;
  ctx.expectContinue = false;
  const res = ctx.res;
  if (!res.headersSent && !res.destroyed) res.writeContinue();
}
