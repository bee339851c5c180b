// `request-termination`: answers every request of its scope with a fixed response and never
// forwards (maintenance pages, stubs, retired endpoints). The reply is built once at create
// time and the same object is returned for every request.
import type { Plugin } from '../../sdk/plugin.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { requestTerminationSchema, type RequestTerminationConfig } from './schema.js';

/** Headers the core writes itself (framing, the request id) or that have their own option. */
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'x-request-id', 'content-type']);

type Problem = { path: Array<string | number>; message: string };

export const requestTerminationPlugin: Plugin<RequestTerminationConfig> = {
  name: 'request-termination',
  priority: 2,
  schema: requestTerminationSchema,
  check(config) {
    const problems: Problem[] = [];
    for (const name of Object.keys(config.headers ?? {})) {
      const lower = name.toLowerCase();
      if (lower === 'content-type') problems.push({ path: ['headers', name], message: 'use content_type' });
      else if (OWNED.has(lower)) problems.push({ path: ['headers', name], message: `"${name}" is managed by the gateway and cannot be set here` });
    }
    const status = config.status ?? 503;
    if ((status === 204 || status === 304) && config.body !== undefined) problems.push({ path: ['body'], message: `a ${status} response has no body` });
    return problems;
  },
  create(config) {
    const headers: Record<string, string> = {};
    let body: Buffer | undefined;
    if (config.body !== undefined) {
      const isText = typeof config.body === 'string';
      body = Buffer.from(isText ? (config.body as string) : JSON.stringify(config.body));
      headers['content-type'] = config.content_type ?? (isText ? 'text/plain; charset=utf-8' : 'application/json');
    } else if (config.content_type !== undefined) headers['content-type'] = config.content_type;
    for (const [name, value] of Object.entries(config.headers ?? {})) headers[name.toLowerCase()] = value;
    const reply = new LocalReply(config.status ?? 503, body, headers);
    return { request: () => reply };
  },
};
