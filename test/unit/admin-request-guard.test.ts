// The browser defences of the admin API and the status listener's purge, one header at a
// time: Host spellings a DNS-rebinding page could send, Origin and Sec-Fetch-Site of
// cross-site writes, and the media types a page can send without a CORS preflight.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { bodyTypeRefusal, guardRequest, hostOf, hostPolicy, mediaTypeProblem } from '../../src/runtime/request-guard.js';
import { allowedHostsProblems } from '../../src/config/allowed-hosts.js';

const req = (method: string, headers: Record<string, string>): IncomingMessage => ({ method, headers }) as unknown as IncomingMessage;
const loopback = hostPolicy('127.0.0.1');

test('loopback names and addresses pass, with or without port, any case, one trailing dot', () => {
  for (const host of ['localhost', 'localhost:8001', 'LOCALHOST', 'LocalHost:1', 'localhost.', 'localhost.:8001', '127.0.0.1', '127.0.0.1:8001', '127.1.2.3:80', '127.0.0.1.', '[::1]', '[::1]:8001', '[0:0:0:0:0:0:0:1]:8001', '[::ffff:127.0.0.1]']) {
    assert.equal(guardRequest(req('GET', { host }), loopback), null, host);
  }
});

test('DNS-rebinding spellings of Host are refused (403 host-not-allowed), reads included', () => {
  const spellings = [
    'evil.example', 'evil.example:8001', 'localhost.evil.example', 'localhost.evil.example:8001', 'evil-localhost', '127.0.0.1.nip.io', '127.0.0.1.nip.io:8001',
    'sub.localhost', 'x.localhost:8001', 'localhost..', '127.1', '0x7f.0.0.1', '2130706433', '0177.0.0.1', '127.000.0.1', '10.0.0.5', '[::2]', '[::ffff:10.0.0.1]',
    'localhost:', 'localhost:80:80', 'localhost:abc', '[::1', '[::1]x', 'local host', 'localhost@evil.example', 'evil.example#localhost', '', '*.localhost', 'localhost\u0000',
  ];
  for (const host of spellings) {
    for (const method of ['GET', 'POST']) {
      const r = guardRequest(req(method, { host }), loopback);
      assert.equal(r?.code, 'host-not-allowed', `${method} Host: ${JSON.stringify(host)}`);
    }
  }
  assert.equal(guardRequest(req('GET', {}), loopback)?.code, 'host-not-allowed', 'no Host at all');
  assert.match(guardRequest(req('GET', { host: 'evil.example' }), loopback)!.detail, /admin\.allowed_hosts/);
});

test('admin.allowed_hosts adds names, *.names and addresses; beyond loopback any IP address passes, names still do not', () => {
  const p = hostPolicy('127.0.0.1', ['admin.internal', '*.corp.example', '10.1.2.3', '[fd00::1]']);
  for (const host of ['admin.internal', 'ADMIN.internal.:9000', 'a.corp.example', 'b.a.corp.example:1', '10.1.2.3:8001', '[fd00:0::1]']) assert.equal(guardRequest(req('GET', { host }), p), null, host);
  for (const host of ['corp.example', 'admin.internal.evil.example', 'evilcorp.example', 'xcorp.example', '10.1.2.4']) assert.equal(guardRequest(req('GET', { host }), p)?.code, 'host-not-allowed', host);

  const wide = hostPolicy('0.0.0.0', ['gw.example']);
  for (const host of ['10.9.8.7:8001', '[2001:db8::1]', 'gw.example', 'localhost']) assert.equal(guardRequest(req('GET', { host }), wide), null, host);
  for (const host of ['evil.example', '10.9.8.7.nip.io']) assert.equal(guardRequest(req('GET', { host }), wide)?.code, 'host-not-allowed', host);
  assert.equal(guardRequest(req('GET', { host: 'admin-1.lan:8001' }), hostPolicy('admin-1.lan')), null, 'bound to a name: that name');
});

test('cross-site writes are refused by Origin and Sec-Fetch-Site; reads and same-origin writes pass', () => {
  const host = 'localhost:8001';
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
    for (const origin of ['https://evil.example', 'http://evil.example', 'null', 'http://localhost:3000', 'http://127.0.0.1:8001', 'http://localhost', 'http://localhost:8001/', 'http://localhost:8001.evil.example', 'http://user@localhost:8001', 'file://', 'HTTP://EVIL.EXAMPLE', '']) {
      assert.equal(guardRequest(req(method, { host, origin }), loopback)?.code, 'cross-site-request', `${method} Origin: ${origin}`);
    }
    for (const site of ['cross-site', 'same-site', 'Cross-Site', 'bogus']) {
      assert.equal(guardRequest(req(method, { host, 'sec-fetch-site': site }), loopback)?.code, 'cross-site-request', `${method} Sec-Fetch-Site: ${site}`);
      assert.equal(guardRequest(req(method, { host, 'sec-fetch-site': site, origin: 'http://localhost:8001' }), loopback)?.code, 'cross-site-request');
    }
    for (const headers of [{}, { origin: 'http://localhost:8001' }, { origin: 'HTTP://LOCALHOST:8001' }, { 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }] as Array<Record<string, string>>) {
      assert.equal(guardRequest(req(method, { host, ...headers }), loopback), null, `${method} ${JSON.stringify(headers)}`);
    }
  }
  assert.equal(guardRequest(req('POST', { host: 'localhost', origin: 'http://localhost:80' }), loopback), null, 'default port');
  assert.equal(guardRequest(req('GET', { host, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' }), loopback), null, 'a cross-site read cannot be read back without CORS');
});

test('writes need a JSON body type: text/plain, forms and a missing type are 415; parameters are fine, a charset must be UTF-8', () => {
  const json = ['application/json'];
  for (const type of ['text/plain', 'text/plain; charset=utf-8', 'text/plain; application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-seq', 'text/json', 'json', '', 'application/*', '*/*', 'application/json; charset=latin1', 'application/json;charset="iso-8859-1"', 'application/yaml']) {
    assert.equal(bodyTypeRefusal(req('POST', { 'content-type': type, 'content-length': '2' }), json)?.code, 'unsupported-media-type', type);
  }
  assert.equal(bodyTypeRefusal(req('POST', { 'content-length': '2' }), json)?.code, 'unsupported-media-type', 'no Content-Type');
  assert.equal(bodyTypeRefusal(req('PUT', {}), json)?.code, 'unsupported-media-type', 'a PUT always needs one');
  for (const type of ['application/json', 'Application/JSON', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json ; charset="utf-8"', 'application/json; foo=bar']) {
    assert.equal(bodyTypeRefusal(req('PATCH', { 'content-type': type, 'content-length': '2' }), json), null, type);
  }
  assert.equal(bodyTypeRefusal(req('DELETE', {}), json), null, 'a DELETE without a body needs no type');
  assert.equal(bodyTypeRefusal(req('DELETE', { 'content-length': '0', 'content-type': 'text/plain' }), json), null);
  assert.equal(bodyTypeRefusal(req('DELETE', { 'transfer-encoding': 'chunked', 'content-type': 'text/plain' }), json)?.code, 'unsupported-media-type', 'a DELETE with a body does');
  assert.equal(bodyTypeRefusal(req('GET', { 'content-type': 'text/plain', 'content-length': '2' }), json), null, 'reads are not checked');
  assert.match(mediaTypeProblem('text/plain', ['application/json', 'application/yaml'])!, /send application\/json, application\/yaml/);
});

test('hostOf and admin.allowed_hosts problems', () => {
  assert.equal(hostOf('[::FFFF:127.0.0.1]:80'), '::ffff:7f00:1');
  assert.equal(hostOf('Example.COM.:443'), 'example.com');
  assert.equal(hostOf('x'.repeat(300)), null);
  assert.deepEqual(allowedHostsProblems(['ok.example', '*.ok.example', '10.0.0.1', '::1', '[::1]', 'host_1'], ['admin', 'allowed_hosts']), []);
  const bad = allowedHostsProblems(['http://x.example', 'x.example:8001', '*.10.0.0.1', 'a b', '*', '*.'], ['admin', 'allowed_hosts']);
  assert.deepEqual(bad.map((p) => p.path), [0, 1, 2, 3, 4, 5].map((i) => ['admin', 'allowed_hosts', i]));
  assert.match(bad[0]!.message, /not a host name, "\*\.name" or an IP address/);
});
