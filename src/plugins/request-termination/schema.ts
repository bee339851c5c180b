import { headerNameSchema, headerValueSchema } from '../../base/schema-defs.js';

export const requestTerminationSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'integer', minimum: 200, maximum: 599 },
    /** A string is sent as is; any other JSON value is sent JSON-encoded. */
    body: { type: ['string', 'object', 'array', 'number', 'boolean'] },
    content_type: headerValueSchema,
    headers: { type: 'object', propertyNames: headerNameSchema, additionalProperties: headerValueSchema },
  },
};

export interface RequestTerminationConfig {
  status?: number;
  body?: unknown;
  content_type?: string;
  headers?: Record<string, string>;
}
