export const requestSizeLimitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['max_bytes'],
  properties: {
    /** Largest request body accepted, in bytes (0: no body at all). */
    max_bytes: { type: 'integer', minimum: 0 },
  },
};

export interface RequestSizeLimitConfig {
  max_bytes: number;
}
