// Differential test: a seeded, bounded set of request heads — valid and mutated, with bodies,
// pipelines and upgrades (test/helpers/request-mutations.ts) — is sent to node's parser (a
// bare node:http server) and through the gateway's listener to a recording upstream. The
// gateway may refuse or answer requests itself; it fails this test when it forwards a request
// the parser refused, or one with another method, target, header set or body, or out of order.
// DIFFERENTIAL_SEED and DIFFERENTIAL_CASES choose other cases.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runDifferential } from '../helpers/differential.js';
import { startRecordingServer, type RecordingServer } from '../helpers/recording-upstream.js';
import { generateCases } from '../helpers/request-mutations.js';
import { startGateway, type InProcessGateway } from '../helpers/servers.js';

const SEED = Number(process.env['DIFFERENTIAL_SEED'] ?? 27);
const COUNT = Number(process.env['DIFFERENTIAL_CASES'] ?? 500);

describe('differential: node parser vs gateway', () => {
  let reference: RecordingServer;
  let upstream: RecordingServer;
  let gw: InProcessGateway;
  before(async () => {
    reference = await startRecordingServer();
    upstream = await startRecordingServer({ upgrades: true });
    gw = await startGateway(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
services:
  - name: s
    url: "${upstream.url}"
    routes: [{ paths: ["/"], preserve_host: true }]
`);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    await reference.close();
  });

  test(`seed ${SEED}: every forwarded request is one the parser read, unchanged and in order`, async (t) => {
    const cases = generateCases(SEED, COUNT);
    const run = await runDifferential(cases, { port: reference.port, server: reference }, { port: gw.port, upstream }, 90_000);
    t.diagnostic(`${run.ran} cases, ${run.read} requests read by the parser, ${run.forwarded} forwarded`);
    assert.ok(run.forwarded > 0, 'nothing was forwarded');
    assert.deepEqual(run.failures, []);
  });
});
