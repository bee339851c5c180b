// The client address behind trusted proxies: which X-Forwarded-For hops count as addresses,
// and that a hop that is not one never becomes the client address.
import assert from 'node:assert/strict';
import { BlockList } from 'node:net';
import { describe, test } from 'node:test';
import { MAX_FORWARDED_HOPS, forwardedClient, hopAddress } from '../../src/proxy/client-address.js';

const trusted = new BlockList();
trusted.addSubnet('10.0.0.0', 8, 'ipv4');
trusted.addAddress('127.0.0.1', 'ipv4');
const PEER = '127.0.0.1';
const client = (xff: string) => forwardedClient(xff, PEER, trusted);

describe('one X-Forwarded-For hop', () => {
  test('addresses, with their port and brackets removed, in one spelling', () => {
    const cases: Array<[string, string]> = [
      ['198.51.100.7', '198.51.100.7'],
      ['  198.51.100.7\t', '198.51.100.7'],
      ['198.51.100.7:80', '198.51.100.7'],
      ['198.51.100.7:65535', '198.51.100.7'],
      ['2001:db8::1', '2001:db8::1'],
      ['2001:DB8:0:0::1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0::1', '2001:db8::1'],
      ['0::1', '::1'],
      ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
      ['[2001:db8::1]', '2001:db8::1'],
      ['[2001:db8::1]:8080', '2001:db8::1'],
      ['::ffff:198.51.100.7', '198.51.100.7'],
      ['::FFFF:c633:6407', '198.51.100.7'],
      ['[::ffff:198.51.100.7]:443', '198.51.100.7'],
    ];
    for (const [hop, want] of cases) assert.equal(hopAddress(hop), want, hop);
  });

  test('attack: anything else is no address', () => {
    const bad = [
      'unknown', 'garbage', '_hidden', 'example.com', 'localhost',
      '999.1.1.1', '256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '0x7f.0.0.1', '2130706433',
      'fe80::1%eth0', '[fe80::1%25eth0]:80', 'fe80::1%25eth0',
      '1.2.3.4:', '1.2.3.4:abc', '1.2.3.4:65536', '1.2.3.4:123456', '1.2.3.4 :80', '1.2.3.4 5.6.7.8',
      '[2001:db8::1', '[2001:db8::1]x', '[2001:db8::1]:', '[1.2.3.4]', '2001:db8::1:80:1:2:3:4:5', ':::1',
      '"198.51.100.7"', 'for=198.51.100.7', '198.51.100.7\u0000', '1'.repeat(70),
    ];
    for (const hop of bad) assert.equal(hopAddress(hop), null, hop);
    assert.equal(hopAddress(''), '');
    assert.equal(hopAddress('   '), '');
  });
});

describe('the client address from X-Forwarded-For', () => {
  test('the right-most hop that is not a trusted proxy', () => {
    assert.equal(client('198.51.100.7'), '198.51.100.7');
    assert.equal(client('203.0.113.9, 198.51.100.7, 10.1.2.3'), '198.51.100.7');
    assert.equal(client('203.0.113.9,198.51.100.7:5555,10.1.2.3'), '198.51.100.7');
    assert.equal(client('198.51.100.7, , 10.1.2.3,'), '198.51.100.7', 'empty list elements are skipped');
  });

  test('attack: a hop that is no address falls back to the nearest valid address on its right', () => {
    for (const bad of ['unknown', 'garbage', '999.1.1.1', '01.2.3.4', 'fe80::1%eth0', '1.2.3.4:99999', 'x'.repeat(5000)]) {
      assert.equal(client(bad), PEER, bad);
      assert.equal(client(`203.0.113.9, ${bad}`), PEER, `a forged hop left of "${bad}" is not reached`);
      assert.equal(client(`203.0.113.9, ${bad}, 10.1.2.3`), '10.1.2.3', `${bad} behind an inner proxy`);
      assert.equal(client(`${bad}, 198.51.100.7`), '198.51.100.7', 'garbage left of the client is never read');
    }
  });

  test('all hops trusted: the left-most of them', () => {
    assert.equal(client('10.9.9.9, 10.1.2.3'), '10.9.9.9');
  });

  test('attack: a chain of many trusted hops is read only so far', () => {
    const hops = Array.from({ length: 10_000 }, (_, i) => `10.0.${(i >> 8) & 255}.${i & 255}`);
    const xff = `203.0.113.9, ${hops.join(', ')}`;
    assert.equal(client(xff), hops[hops.length - MAX_FORWARDED_HOPS], 'the last hop read');
    assert.equal(client(`203.0.113.9, ${hops.slice(-5).join(',')}`), '203.0.113.9');
  });
});
