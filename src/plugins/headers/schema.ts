import { headerNameSchema, headerValueSchema } from '../../base/schema-defs.js';

const edits = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Appended, keeping values already there. */
    add: { type: 'object', propertyNames: headerNameSchema, additionalProperties: { anyOf: [headerValueSchema, { type: 'array', items: headerValueSchema }] } },
    /** Replaces every existing value. */
    set: { type: 'object', propertyNames: headerNameSchema, additionalProperties: headerValueSchema },
    remove: { type: 'array', items: headerNameSchema },
  },
};

export const headersSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { request: edits, response: edits },
};

export interface HeaderEdits {
  add?: Record<string, string | string[]>;
  set?: Record<string, string>;
  remove?: string[];
}

export interface HeadersConfig {
  request?: HeaderEdits;
  response?: HeaderEdits;
}
