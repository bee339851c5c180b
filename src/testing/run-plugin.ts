// One plugin on one route, one request: the unit test of a plugin's behaviour, through the
// real pipeline (schema, check, create, every phase) and the real proxy, without sockets.
import type { Plugin } from '../sdk/plugin.js';
import { createTestGateway, type TestRequest, type TestResponse, type TestUpstream, type UpstreamHandler, type UpstreamRequest } from './harness.js';

export interface RunPluginOptions {
  /** How the upstream answers (default: 200 with a JSON echo of what it received). */
  readonly upstream?: TestUpstream;
  /** More top-level config: consumers, plans, other plugins under `plugins:` … */
  readonly config?: Record<string, unknown>;
  /** Other plugins the config names (beside the built-in ones). */
  readonly plugins?: readonly Plugin[];
}

export interface RunPluginResult extends TestResponse {
  /** What the upstream received, or null when the plugin answered by itself. */
  readonly upstream: UpstreamRequest | null;
}

/** The upstream of `runPlugin` unless one is given: it answers with what it received. */
export const echoUpstream: UpstreamHandler = (req) => ({ status: 200, body: { method: req.method, path: req.path, headers: req.headers, rawHeaders: req.rawHeaders, body: req.body } });

/**
 * Runs `plugin` with `config` on a route matching every path, sends `request` and returns the
 * response and what the upstream received. The plugin is a Plugin object or a built-in's name.
 */
export async function runPlugin(plugin: Plugin | string, config: unknown, request: TestRequest = {}, opts: RunPluginOptions = {}): Promise<RunPluginResult> {
  const name = typeof plugin === 'string' ? plugin : plugin.name;
  const gw = createTestGateway({
    config: {
      ...opts.config,
      services: [{ name: 'plugin-under-test', url: 'http://upstream', routes: [{ name: 'plugin-under-test', paths: ['/'], plugins: { [name]: config } }] }],
    },
    plugins: [...(typeof plugin === 'string' ? [] : [plugin]), ...(opts.plugins ?? [])],
    upstreams: { upstream: opts.upstream ?? echoUpstream },
  });
  try {
    const response = await gw.request(request);
    return { ...response, upstream: gw.received('upstream')[0] ?? null };
  } finally {
    await gw.close();
  }
}
