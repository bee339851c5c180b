// The plugin's behaviour through a real gateway in this process, without sockets.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTestGateway, runPlugin } from 'northgate/testing';
import hello from '../src/index.js';

test('GET on the path is answered by the gateway, with the name from X-Name', async () => {
  const res = await runPlugin(hello, { greeting: 'Hi' }, { path: '/hello', headers: { 'x-name': 'Ada' } });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json(), { message: 'Hi, Ada!' });
  assert.equal(res.upstream, null, 'the upstream is not asked');
});

test('other requests reach the upstream with X-Greeting', async () => {
  const res = await runPlugin(hello, {}, { method: 'POST', path: '/orders', body: '{}' });
  assert.equal(res.status, 200);
  assert.equal(res.upstream?.headers['x-greeting'], 'Hello');
  assert.equal(res.upstream?.path, '/orders');
});

test('the config is validated against the plugin schema and its check', () => {
  const config = (greeting: unknown) => ({ services: [{ name: 's', url: 'http://upstream', plugins: { hello: { greeting } } }] });
  assert.throws(() => createTestGateway({ config: config(7), plugins: [hello] }), /services\[0\]\.plugins\.hello\.greeting: must be string/);
  assert.throws(() => createTestGateway({ config: config('a\nb'), plugins: [hello] }), /greeting: must be one line/);
});

test('on a service, beside a built-in plugin, with an in-process upstream', async () => {
  const gw = createTestGateway({
    config: {
      services: [{ name: 'shop', url: 'http://shop', plugins: { hello: { path: '/greet' }, 'request-size-limit': { max_bytes: 10 } }, routes: [{ paths: ['/'] }] }],
    },
    plugins: [hello],
    upstreams: { shop: (req) => ({ body: { greeted: req.headers['x-greeting'] } }) },
  });
  try {
    assert.deepEqual((await gw.request({ path: '/greet' })).json(), { message: 'Hello, world!' });
    assert.deepEqual((await gw.request({ path: '/cart' })).json(), { greeted: 'Hello' });
    assert.equal((await gw.request({ method: 'POST', path: '/cart', body: 'x'.repeat(11) })).status, 413);
  } finally {
    await gw.close();
  }
});
