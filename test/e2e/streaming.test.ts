// Bodies stream with backpressure both ways: a 1 GiB download to a slow-reading client
// and a 512 MiB upload to a slow-reading upstream each keep the gateway's RSS within
// 128 MiB of what it was idle, just after start (~130 MB: startup garbage V8 keeps the pages
// of; dead chunks wait for the GC, which external memory triggers in ~64 MB steps).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startCli, startUpstream, writeConfig, type CliGateway, type Upstream } from '../helpers/servers.js';

const MiB = 1024 * 1024;
const DOWNLOAD = 1024 * MiB;
const UPLOAD = 512 * MiB;
const RSS_GROWTH_LIMIT = 128 * MiB;
const chunk = Buffer.alloc(64 * 1024, 'x');

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Samples the process's RSS every 50 ms until stopped; returns how far its maximum rose above `idle`. */
function watchRss(pid: number, idle: number): { stop(): number } {
  let max = rssOf(pid);
  const timer = setInterval(() => (max = Math.max(max, rssOf(pid))), 50);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, rssOf(pid)) - idle;
    },
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('streaming with backpressure', { skip: process.platform !== 'linux' ? 'reads RSS from /proc (Linux only)' : false }, () => {
  let up: Upstream;
  let gw: CliGateway;
  /** The gateway's RSS just after start, before any transfer: both tests are measured against it. */
  let idle = 0;
  before(async () => {
    up = await startUpstream((req, res) => {
      if (req.url === '/download') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(DOWNLOAD) });
        let sent = 0;
        const pump = () => {
          while (sent < DOWNLOAD) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      } else {
        // A slow reader: 1 ms pause after every MiB received.
        let received = 0;
        let sinceBreak = 0;
        req.on('data', (c: Buffer) => {
          received += c.length;
          sinceBreak += c.length;
          if (sinceBreak >= MiB) {
            sinceBreak = 0;
            req.pause();
            setTimeout(() => req.resume(), 1);
          }
        });
        req.on('end', () => res.end(JSON.stringify({ received })));
      }
    });
    const config = writeConfig(`
_format_version: "1"
listen: { proxy: "127.0.0.1:0", status: null }
limits: { max_body_bytes: ${UPLOAD} }
access_log: { enabled: false }
services: [{ name: big, url: "${up.url}", routes: [{ paths: ["/"] }] }]
`);
    gw = await startCli(['--config', config]);
    idle = rssOf(gw.child.pid!);
  });
  after(async () => {
    await gw.stop();
    await up.close();
  });

  test('1 GiB download to a slow-reading client', async () => {
    const rss = watchRss(gw.child.pid!, idle);
    const received = await new Promise<number>((resolve, reject) => {
      const req = request(`${gw.url}/download`, (res) => {
        let n = 0;
        let sinceBreak = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          sinceBreak += c.length;
          // Read slower than the upstream writes: 1 ms pause after every 4 MiB.
          if (sinceBreak >= 4 * MiB) {
            sinceBreak = 0;
            res.pause();
            void pause(1).then(() => res.resume());
          }
        });
        res.on('end', () => resolve(n));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    const growth = rss.stop();
    assert.equal(received, DOWNLOAD);
    assert.ok(growth < RSS_GROWTH_LIMIT, `gateway RSS rose ${Math.round(growth / MiB)} MiB above its idle ${Math.round(idle / MiB)} MiB`);
  });

  test('512 MiB chunked upload to a slow-reading upstream', async () => {
    const rss = watchRss(gw.child.pid!, idle);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(`${gw.url}/upload`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < UPLOAD) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    const growth = rss.stop();
    assert.deepEqual(JSON.parse(answer), { received: UPLOAD });
    assert.ok(growth < RSS_GROWTH_LIMIT, `gateway RSS rose ${Math.round(growth / MiB)} MiB above its idle ${Math.round(idle / MiB)} MiB`);
  });
});
