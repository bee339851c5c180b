// A handler that answers every request with what the server read: method, target, version,
// raw headers, body and raw trailers, as JSON. It runs unchanged on node:http and on the
// HTTP/1.1 engine (both satisfy the downstream interfaces), so their answers can be compared
// byte for byte.
import type { DownstreamRequest, DownstreamResponse } from '../../src/http1/types.js';

export function echo(req: DownstreamRequest, res: DownstreamResponse): void {
  const expect = req.headers.expect;
  if (expect !== undefined && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) {
    if (!/(?:^|\W)100-continue(?:$|\W)/i.test(expect)) return void res.writeHead(417, ['content-length', '0']).end();
    res.writeContinue();
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const read = {
      method: req.method,
      url: req.url,
      version: req.httpVersion,
      rawHeaders: req.rawHeaders,
      body: Buffer.concat(chunks).toString('latin1'),
      trailers: (req as unknown as { rawTrailers: string[] }).rawTrailers,
    };
    const body = JSON.stringify(read);
    res.writeHead(200, ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))]);
    if (req.method === 'HEAD') res.end();
    else res.end(body);
  });
}

/** A raw answer without its Date lines (the one field two servers cannot agree on). */
export function withoutDates(text: string): string {
  return text.replace(/\r\nDate: [^\r\n]*/g, '');
}
