import { hostSchema } from '../../base/schema-defs.js';
import { pathModifierSchema, type PathModifierConfig } from '../../base/path-modifier.js';

export const redirectSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    scheme: { enum: ['http', 'https'] },
    host: hostSchema,
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    path: pathModifierSchema,
    status: { enum: [301, 302, 303, 307, 308] },
  },
};

export interface RedirectConfig {
  scheme?: 'http' | 'https';
  host?: string;
  port?: number;
  path?: PathModifierConfig;
  status?: 301 | 302 | 303 | 307 | 308;
}
