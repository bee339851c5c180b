// fastify 5 + @fastify/http-proxy 11 with defaults (undici upstream client), logger off.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';
import { announce, args, exitOnSignals } from './common.js';

const { port, upstream } = args();
if (!upstream) throw new Error('usage: fastify-proxy <port> <upstreamUrl>');
const app = Fastify({ logger: false });
await app.register(proxy, { upstream });
await app.listen({ host: '127.0.0.1', port });
announce(app.server);
exitOnSignals(() => app.close());
