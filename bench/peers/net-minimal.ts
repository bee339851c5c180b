// "net-minimal": the least an HTTP-aware proxy can do in Node, on net sockets — what a Node
// gateway costs before any of its own work. Per client connection one kept-alive upstream
// connection; each request head (GET/HEAD, no body: what the bench sends) is found by its
// blank line, gets an X-Forwarded-For line and goes upstream in one write; each response head
// is found the same way, its Content-Length read, and the head and that many body bytes are
// relayed. No validation, routing, timeouts, pooling across clients or error answers: a
// measuring stick, not a proxy to use.
import net from 'node:net';
import { announce, args, exitOnSignals } from './common.js';

const { port, upstream } = args();
if (!upstream) throw new Error('usage: net-minimal <port> <upstreamUrl>');
const up = new URL(upstream);
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i;

const server = net.createServer((client) => {
  client.setNoDelay(true);
  const origin = net.connect(Number(up.port), up.hostname);
  origin.setNoDelay(true);
  let request = '';
  let head = '';
  /** Body bytes of the current response still to relay. */
  let left = 0;
  client.on('data', (d: Buffer) => {
    request += d.toString('latin1');
    for (let end = request.indexOf('\r\n\r\n'); end !== -1; end = request.indexOf('\r\n\r\n')) {
      const line = request.indexOf('\r\n');
      origin.write(`${request.slice(0, line)}\r\nx-forwarded-for: ${client.remoteAddress ?? ''}${request.slice(line, end)}\r\n\r\n`, 'latin1');
      request = request.slice(end + 4);
    }
  });
  origin.on('data', (d: Buffer) => {
    let at = 0;
    while (at < d.length) {
      if (left > 0) {
        const take = Math.min(left, d.length - at);
        client.write(d.subarray(at, at + take));
        left -= take;
        at += take;
        continue;
      }
      const text = head + d.toString('latin1', at);
      const end = text.indexOf('\r\n\r\n');
      if (end === -1) {
        head = text;
        return;
      }
      const consumed = end + 4 - head.length;
      left = Number(CONTENT_LENGTH.exec(text.slice(0, end))?.[1] ?? 0);
      head = '';
      const take = Math.min(left, d.length - at - consumed);
      client.write(Buffer.concat([Buffer.from(text.slice(0, end + 4), 'latin1'), d.subarray(at + consumed, at + consumed + take)]));
      left -= take;
      at += consumed + take;
    }
  });
  client.on('close', () => origin.destroy());
  origin.on('close', () => client.destroy());
  client.on('error', () => origin.destroy());
  origin.on('error', () => client.destroy());
});
server.listen(port, '127.0.0.1', () => announce(server));
exitOnSignals(() => new Promise((r) => server.close(r)));
