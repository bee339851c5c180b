// W3C traceparent parsing (what a gateway must accept and refuse), ids and the ratio sampler.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTraceparent, hexTraceparent, hexWord, parseTraceparent, randomId, ratioThreshold, RootContexts, rootSampled, takeSpanId, takeWords, words, wordsTraceparent } from '../../src/observability/trace-context.js';

const T = '4bf92f3577b34da6a3ce929d0e0e4736';
const S = '00f067aa0ba902b7';

test('a valid traceparent is parsed, with its sampled flag', () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, sampled: true });
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-00`), { traceId: T, spanId: S, sampled: false });
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-03`), { traceId: T, spanId: S, sampled: true });
  // A later version may append fields after a dash.
  assert.deepEqual(parseTraceparent(`01-${T}-${S}-01-what-ever`), { traceId: T, spanId: S, sampled: true });
});

test('invalid traceparents are refused', () => {
  for (const bad of [
    undefined,
    '',
    `00-${T}-${S}`,
    `00-${T}-${S}-01-extra`, // version 00 has exactly four fields
    `ff-${T}-${S}-01`,
    `00-${T.toUpperCase()}-${S}-01`,
    `00-00000000000000000000000000000000-${S}-01`,
    `00-${T}-0000000000000000-01`,
    `00-${T}-${S}-0g`,
    `00_${T}-${S}-01`,
    `01-${T}-${S}-01x`,
  ]) {
    assert.equal(parseTraceparent(bad), null, String(bad));
  }
});

test('ids are lower-case hex of the right length, distinct; traceparent is formatted per W3C', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 2000; i++) ids.add(randomId(i % 2 === 0 ? 8 : 16));
  assert.equal(ids.size, 2000);
  for (const id of ids) assert.match(id, /^([0-9a-f]{16}|[0-9a-f]{32})$/);
  assert.equal(formatTraceparent(T, S, true), `00-${T}-${S}-01`);
  assert.equal(formatTraceparent(T, S, false), `00-${T}-${S}-00`);
});

test('root sampling by the last word of the trace id keeps about the ratio, the same decision every time, all at 1 and none at 0', () => {
  const quarter = ratioThreshold(0.25);
  let kept = 0;
  for (let i = 0; i < 4000; i++) if (rootSampled(words[takeWords(4) + 3]!, quarter)) kept++;
  assert.ok(kept > 800 && kept < 1200, `kept ${kept} of 4000 at 0.25`);
  const last = hexWord(T, 24);
  assert.equal(rootSampled(last, quarter), rootSampled(last, quarter));
  assert.equal(rootSampled(-1, ratioThreshold(1)), true, 'the largest last word is kept at 1');
  assert.equal(rootSampled(0, ratioThreshold(0)), false, 'the smallest last word is dropped at 0');
});

test('a traceparent written from id words reads back as those words, the sign bit and zero digits included', () => {
  const t = [0x4bf92f35 | 0, 0x77b34da6, 0xa3ce929d | 0, 0x0e0e4736];
  const tp = wordsTraceparent(t[0]!, t[1]!, t[2]!, t[3]!, 0x00f067aa, 0x0ba902b7, true);
  assert.equal(tp, `00-${T}-${S}-01`);
  assert.equal(wordsTraceparent(t[0]!, t[1]!, t[2]!, t[3]!, -1, 0, false), `00-${T}-ffffffff00000000-00`);
  assert.equal(hexTraceparent(T, 0x00f067aa, 0x0ba902b7, false), `00-${T}-${S}-00`);
  assert.deepEqual([0, 8, 16, 24].map((at) => hexWord(T, at)), t);
  // Random words, as the gateway draws them: each traceparent parses, and its hex is the words'.
  for (let i = 0; i < 3000; i++) {
    const at = takeWords(4);
    const s = takeSpanId();
    assert.ok((words[s]! | words[s + 1]!) !== 0, 'a span id is never all zeros');
    const parsed = parseTraceparent(wordsTraceparent(words[at]!, words[at + 1]!, words[at + 2]!, words[at + 3]!, words[s]!, words[s + 1]!, true));
    assert.ok(parsed !== null && parsed.sampled);
    assert.deepEqual([0, 8, 16, 24].map((k) => hexWord(parsed.traceId, k)), [words[at], words[at + 1], words[at + 2], words[at + 3]]);
    assert.deepEqual([hexWord(parsed.spanId, 0), hexWord(parsed.spanId, 8)], [words[s], words[s + 1]]);
  }
});

test('root contexts drawn ahead: each traceparent carries its root\'s trace id and first client span id, the flag its sampling decision, across blocks', () => {
  const threshold = ratioThreshold(0.5);
  const roots = new RootContexts(threshold);
  const traceIds = new Set<string>();
  let sampled = 0;
  for (let n = 0; n < 1000; n++) {
    const i = roots.take();
    const r = Array.from(roots.words.subarray(8 * i, 8 * i + 8));
    const parsed = parseTraceparent(roots.traceparent(i));
    assert.ok(parsed !== null, roots.traceparent(i));
    assert.deepEqual([0, 8, 16, 24].map((k) => hexWord(parsed.traceId, k)), r.slice(0, 4));
    assert.deepEqual([hexWord(parsed.spanId, 0), hexWord(parsed.spanId, 8)], r.slice(6, 8), 'the first client span id');
    assert.ok((r[4]! | r[5]!) !== 0 && (r[6]! | r[7]!) !== 0, 'span ids are never all zeros');
    assert.notDeepEqual(r.slice(4, 6), r.slice(6, 8), 'the server span and the first client span have ids of their own');
    assert.equal(parsed.sampled, roots.sampled(i));
    assert.equal(roots.sampled(i), rootSampled(r[3]!, threshold), 'decided by the trace id\'s last word');
    if (parsed.sampled) sampled++;
    traceIds.add(parsed.traceId);
  }
  assert.equal(traceIds.size, 1000, 'a trace id per root');
  assert.ok(sampled > 400 && sampled < 600, `sampled ${sampled} of 1000 at 0.5`);
  const none = new RootContexts(ratioThreshold(0));
  const all = new RootContexts(ratioThreshold(1));
  for (let n = 0; n < 200; n++) {
    assert.ok(roots.traceparent(roots.take()).length === 55);
    assert.equal(none.sampled(none.take()), false);
    const i = all.take();
    assert.equal(all.sampled(i), true);
    assert.ok(all.traceparent(i).endsWith('-01'));
  }
});
