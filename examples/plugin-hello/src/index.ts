// The `hello` plugin: GET on its path is answered by the gateway itself with a greeting;
// every other request goes on to the upstream with an X-Greeting header.
import { LocalReply, type Plugin } from 'northgate/sdk';

export interface HelloConfig {
  /** The word to greet with (default "Hello"). */
  greeting?: string;
  /** The path the gateway answers itself (default "/hello"). */
  path?: string;
}

const hello: Plugin<HelloConfig> = {
  name: 'hello',
  priority: 500,
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      greeting: { type: 'string', minLength: 1, maxLength: 64 },
      path: { type: 'string', pattern: '^/' },
    },
  },
  check: (cfg) => (cfg.greeting !== undefined && /[\r\n]/.test(cfg.greeting) ? [{ path: ['greeting'], message: 'must be one line' }] : []),
  // Once per scope per config: everything that depends only on the config is worked out here.
  create(cfg) {
    const greeting = cfg.greeting ?? 'Hello';
    const path = cfg.path ?? '/hello';
    return {
      request(ctx) {
        if (ctx.method === 'GET' && ctx.path === path) return LocalReply.json(200, { message: `${greeting}, ${ctx.header('x-name') ?? 'world'}!` });
        ctx.upstreamHeaders.set('x-greeting', greeting);
        return undefined;
      },
    };
  },
};

export default hello;
