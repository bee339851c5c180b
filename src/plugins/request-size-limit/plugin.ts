// `request-size-limit`: a request body limit for one scope, lower than the global
// limits.max_body_bytes. A declared Content-Length over it is answered 413 here, before
// anything is sent upstream; a chunked body is cut by the core at ctx.maxBodyBytes (413,
// upstream request aborted), exactly as for the global limit.
import type { Plugin } from '../../sdk/plugin.js';
import { LocalReply } from '../../sdk/local-reply.js';
import { requestSizeLimitSchema, type RequestSizeLimitConfig } from './schema.js';

export const requestSizeLimitPlugin: Plugin<RequestSizeLimitConfig> = {
  name: 'request-size-limit',
  priority: 1500,
  schema: requestSizeLimitSchema,
  create(config) {
    const max = config.max_bytes;
    const detail = `request body exceeds ${max} bytes`;
    return {
      request(ctx) {
        if (ctx.requestBodyLength > max) return LocalReply.error('body-too-large', detail);
        if (max < ctx.maxBodyBytes) ctx.maxBodyBytes = max;
        return undefined;
      },
    };
  },
};
