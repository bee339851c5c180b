import { pathModifierSchema, type PathModifierConfig } from '../../base/path-modifier.js';
import { hostPortSchema } from '../../base/schema-defs.js';

export const rewriteSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  'x-message': 'needs host, path or both',
  properties: {
    host: hostPortSchema,
    path: pathModifierSchema,
  },
};

export interface RewriteConfig {
  host?: string;
  path?: PathModifierConfig;
}
