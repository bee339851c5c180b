// The developer portal in tests: a gateway with its portal listener in this process (real
// sockets, config from a real file so that OpenAPI paths resolve next to it), a small JSON
// client with a cookie jar and the CSRF token, and Debian's Chromium through playwright-core.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfigFile } from '../../src/compiler/load.js';
import { defaultRegistry } from '../../src/plugins/index.js';
import { Gateway } from '../../src/runtime/gateway.js';
import { createLogger } from '../../src/base/logger.js';
import { http, tempDir, type HttpResult } from './servers.js';

export interface PortalGatewayHandle {
  gateway: Gateway;
  dir: string;
  configFile: string;
  proxyUrl: string;
  portalUrl: string;
  close(): Promise<void>;
}

/**
 * Writes `files` (name -> text) and northgate.yaml into a fresh directory (or `dir`: a restart
 * on the same portal file) and starts a gateway on it. The portal's default SQLite file
 * (northgate-portal.db) sits next to the config.
 */
export async function startPortalGateway(yaml: string, files: Record<string, string> = {}, dir = tempDir('northgate-portal-')): Promise<PortalGatewayHandle> {
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const configFile = join(dir, 'northgate.yaml');
  writeFileSync(configFile, yaml);
  const registry = defaultRegistry();
  const gateway = new Gateway({ registry, logger: createLogger({ level: 'silent' }), loadConfig: () => loadConfigFile(configFile, registry), source: configFile, configFile });
  gateway.load();
  const [proxy] = await gateway.listen();
  const portal = gateway.portalAddress;
  return {
    gateway,
    dir,
    configFile,
    proxyUrl: `http://127.0.0.1:${proxy!.port}`,
    portalUrl: portal === null ? '' : `http://127.0.0.1:${portal.port}`,
    close: async () => {
      await gateway.drain(1000);
    },
  };
}

export interface JsonResult extends HttpResult {
  json: Record<string, any>;
}

/** A visitor of the portal's JSON API: keeps the session cookie and the CSRF token like the pages do. */
export class PortalClient {
  cookie = '';
  csrf = '';
  constructor(readonly base: string) {}

  async call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<JsonResult> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.cookie) h['cookie'] = this.cookie;
    if (method !== 'GET' && body !== undefined) h['content-type'] ??= 'application/json';
    if (method !== 'GET' && this.csrf && !('x-csrf-token' in headers)) h['x-csrf-token'] = this.csrf;
    const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    // node:http sends a DELETE body without a length unless told: give every body one.
    if (text !== undefined) h['content-length'] = String(Buffer.byteLength(text));
    const res = await http(this.base + path, { method, headers: h, ...(text !== undefined ? { body: text } : {}) });
    const set = res.headers['set-cookie'];
    if (set !== undefined) this.cookie = set[set.length - 1]!.split(';')[0]!;
    let json: Record<string, any> = {};
    try {
      json = JSON.parse(res.body) as Record<string, any>;
    } catch {
      // not JSON (pages, assets)
    }
    if (typeof json['csrf_token'] === 'string') this.csrf = json['csrf_token'];
    return { ...res, json };
  }

  get(path: string): Promise<JsonResult> {
    return this.call('GET', path);
  }
  post(path: string, body: unknown = {}): Promise<JsonResult> {
    return this.call('POST', path, body);
  }
  del(path: string): Promise<JsonResult> {
    return this.call('DELETE', path, {});
  }

  /** Opens a session, signs up (or in) and returns the account. */
  async signUp(email: string, password = 'correct horse battery'): Promise<Record<string, any>> {
    await this.get('/portal/api/session');
    const r = await this.post('/portal/api/sign-up', { email, password });
    if (r.status !== 201) throw new Error(`sign-up failed: ${r.status} ${r.body}`);
    return r.json['account'];
  }
}

export const CHROMIUM = '/usr/bin/chromium';
export const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** undefined when Chromium is installed, else the skip reason (a failure under NORTHGATE_REQUIRE_SERVICES=1). */
export function browserSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `skipped: no browser at ${CHROMIUM}`;
  if (process.env['NORTHGATE_REQUIRE_SERVICES'] === '1') throw new Error(`${reason} (NORTHGATE_REQUIRE_SERVICES=1 makes this a failure)`);
  return reason;
}

export const ORDERS_OPENAPI = `openapi: 3.1.0
info: { title: Orders API, version: "1.2.0", description: Create and look up orders. }
servers: [{ url: "http://orders.internal:9000" }]
paths:
  /orders/{id}:
    parameters:
      - { name: id, in: path, required: true, description: The order id, schema: { type: string } }
    get:
      summary: Get an order
      parameters:
        - { name: expand, in: query, required: false, schema: { type: boolean } }
      responses:
        "200":
          description: The order
          content:
            application/json:
              schema: { $ref: "#/components/schemas/Order" }
              example: { id: "42", total: 12.5, status: open }
        "404": { description: No such order }
  /orders:
    post:
      summary: Create an order
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/Order" }
            example: { total: 3.5 }
      responses:
        "201": { description: Created }
components:
  schemas:
    Order:
      type: object
      required: [id]
      properties:
        id: { type: string, description: Assigned by the server }
        total: { type: number, format: double }
        status: { type: string, enum: [open, paid, shipped] }
`;
