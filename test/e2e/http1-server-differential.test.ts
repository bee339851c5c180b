// Differential test of the HTTP/1.1 engine against node:http: the same seeded request bytes
// (valid and mutated heads, bodies, trailers, pipelines, upgrades: test/helpers/request-mutations.ts)
// go to a node:http server and to the engine, both running the same echo handler. Their raw
// answers must be the same bytes (Date aside), and both must close or keep the connection alike:
// the engine reads, refuses, orders and frames exactly as node does.
// HTTP1_DIFF_SEED and HTTP1_DIFF_CASES choose other cases.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttp1Server, type Http1Server } from '../../src/http1/server.js';
import { echo, withoutDates } from '../helpers/http1-echo.js';
import { converse } from '../helpers/recording-upstream.js';
import { generateCases } from '../helpers/request-mutations.js';

const SEED = Number(process.env['HTTP1_DIFF_SEED'] ?? 24);
const COUNT = Number(process.env['HTTP1_DIFF_CASES'] ?? 400);

describe('differential: node:http vs the HTTP/1.1 engine', () => {
  let node: Server;
  let engine: Http1Server;
  let nodePort = 0;
  let enginePort = 0;
  before(async () => {
    node = createServer({ requireHostHeader: false, keepAliveTimeout: 5000 }, echo);
    node.on('checkContinue', echo);
    node.on('checkExpectation', echo);
    engine = createHttp1Server({ keepAliveTimeout: 5000 }, echo);
    node.listen(0, '127.0.0.1');
    engine.listen(0, '127.0.0.1');
    await Promise.all([once(node, 'listening'), once(engine, 'listening')]);
    nodePort = (node.address() as AddressInfo).port;
    enginePort = (engine.address() as AddressInfo).port;
  });
  after(() => {
    node.closeAllConnections();
    engine.closeAllConnections();
    node.close();
    engine.close();
  });

  test(`seed ${SEED}: the same answers, byte for byte, and the same connection ends`, async (t) => {
    const cases = generateCases(SEED, COUNT);
    const failures: string[] = [];
    let answers = 0;
    for (const c of cases) {
      const marker = `"url":"${c.sentinel}"`;
      const done = (text: string) => text.includes(marker);
      const [a, b] = await Promise.all([converse(nodePort, c.bytes, done, 1500), converse(enginePort, c.bytes, done, 1500)]);
      const x = withoutDates(a.text);
      const y = withoutDates(b.text);
      answers += (x.match(/HTTP\/1\.1 \d{3} /g) ?? []).length;
      if (x !== y || a.closed !== b.closed) {
        failures.push(`case ${c.id} ${JSON.stringify(c.labels)}\n  bytes: ${JSON.stringify(c.bytes.toString('latin1'))}\n  node (${a.closed ? 'closed' : 'open'}): ${JSON.stringify(x)}\n  engine (${b.closed ? 'closed' : 'open'}): ${JSON.stringify(y)}`);
      }
    }
    t.diagnostic(`${cases.length} cases, ${answers} answers from node`);
    assert.ok(answers > cases.length, 'too few answers to compare');
    assert.deepEqual(failures.slice(0, 5), []);
  });
});
