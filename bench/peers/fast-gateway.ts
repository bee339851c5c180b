// fast-gateway 3.4.7 (restana + fast-proxy-lite, http.Agent keep-alive) with defaults.
import gateway from 'fast-gateway';
import { announce, args, exitOnSignals } from './common.js';

const { port, upstream } = args();
if (!upstream) throw new Error('usage: fast-gateway <port> <upstreamUrl>');
// prefix '' + the default pathRegex '/*' proxies every path unchanged.
const service = gateway({ routes: [{ prefix: '', target: upstream }] });
const server = await service.start(port, '127.0.0.1');
announce(server as import('node:http').Server);
exitOnSignals(() => service.close());
