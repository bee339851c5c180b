// The operator console in tests: a client that signs in like the page does (session cookie +
// CSRF token in memory), and the bytes the console's first load pulls in, found by following
// its page, stylesheets and ES module imports as a browser would.
import { gunzipSync } from 'node:zlib';
import { http, type HttpResult } from './servers.js';

export interface ConsoleResult extends HttpResult {
  json: any;
}

export class ConsoleClient {
  cookie = '';
  csrf: string | null = null;
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ConsoleResult> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.cookie !== '' && !('cookie' in headers)) h['cookie'] = this.cookie;
    if (method !== 'GET' && this.csrf !== null && !('x-csrf-token' in headers)) h['x-csrf-token'] = this.csrf;
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    if (text !== undefined) {
      h['content-type'] ??= 'application/json';
      h['content-length'] = String(Buffer.byteLength(text));
    }
    const r = await http(this.base + path, { method, headers: h, ...(text !== undefined ? { body: text } : {}) });
    let json: any;
    try {
      json = r.body === '' ? undefined : JSON.parse(r.body);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  }

  /** Signs in with the admin token; keeps the cookie and the CSRF token. */
  async signIn(token: string): Promise<ConsoleResult> {
    const r = await this.call('POST', '/ui/api/session', { token });
    const set = r.headers['set-cookie'];
    if (r.status === 201 && set !== undefined) {
      this.cookie = set[0]!.split(';')[0]!;
      this.csrf = r.json.csrf_token;
    }
    return r;
  }
}

/** Every file the console's page loads at first (page, stylesheets, module graph), with its gzip size. */
export async function firstLoad(base: string): Promise<Map<string, { raw: number; gzip: number }>> {
  const seen = new Map<string, { raw: number; gzip: number }>();
  const queue = ['/ui/'];
  for (let i = 0; i < queue.length && i < 100; i++) {
    const path = queue[i]!;
    if (seen.has(path)) continue;
    const r = await fetchGzip(base + path);
    seen.set(path, { raw: r.text.length, gzip: r.gzip });
    const dir = path.endsWith('/') ? path : path.slice(0, path.lastIndexOf('/') + 1);
    const refs = path.endsWith('/') ? [...r.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!) : path.endsWith('.js') ? [...r.text.matchAll(/(?:import|from)\s*["']([^"']+)["']/g)].map((m) => m[1]!) : [];
    // `data:` (the empty icon) costs no request; the page test makes sure no ref has another origin.
    for (const ref of refs) if (!/^[a-z]+:/.test(ref)) queue.push(new URL(ref, `http://x${dir}`).pathname);
  }
  return seen;
}

async function fetchGzip(url: string): Promise<{ text: string; gzip: number }> {
  const u = new URL(url);
  const r = await new Promise<{ body: Buffer; encoding: string | undefined; status: number }>((resolve, reject) => {
    import('node:http').then(({ get }) => {
      get({ host: u.hostname, port: u.port, path: u.pathname, headers: { 'accept-encoding': 'gzip' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ body: Buffer.concat(chunks), encoding: res.headers['content-encoding'], status: res.statusCode! }));
      }).on('error', reject);
    }, reject);
  });
  if (r.status !== 200) throw new Error(`${url}: ${r.status}`);
  const text = (r.encoding === 'gzip' ? gunzipSync(r.body) : r.body).toString();
  return { text, gzip: r.body.length };
}
