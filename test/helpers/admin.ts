// Admin API helpers for the store and admin tests: a node config in database mode, the admin
// URL a started CLI gateway announced, and a small JSON client.
import { http, type CliGateway, type HttpResult } from './servers.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A node file: proxy and admin on port 0, no status listener, the given store. */
export function nodeConfig(storeUrl: string, extra = ''): string {
  return `_format_version: "1"
mode: database
store: { url: "${storeUrl}", poll_interval: 5s }
listen: { proxy: "127.0.0.1:0", status: null, admin: "127.0.0.1:0" }
admin: { token: "${ADMIN_TOKEN}" }
access_log: { enabled: false }
${extra}`;
}

export function adminUrlOf(gw: CliGateway): string {
  const start = gw.lines.find((l) => l['type'] === 'start')!;
  return start['admin'] as string;
}

export interface ApiResult extends HttpResult {
  json: any;
}

export type Api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<ApiResult>;

export function adminClient(base: string, token: string | null = ADMIN_TOKEN): Api {
  return async (method, path, body, headers = {}) => {
    const h: Record<string, string> = { 'content-type': 'application/json', ...headers };
    if (token !== null) h['authorization'] = `Bearer ${token}`;
    const r = await http(base, { method, path, headers: h, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });
    let json: unknown;
    try {
      json = r.body === '' ? undefined : JSON.parse(r.body);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  };
}
