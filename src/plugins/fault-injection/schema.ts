import { DURATION_PATTERN } from '../../base/duration.js';

const percent = { type: 'number', minimum: 0, maximum: 100 };

export const faultInjectionSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  'x-message': 'needs abort, delay or both',
  properties: {
    abort: {
      type: 'object',
      additionalProperties: false,
      required: ['status', 'percent'],
      properties: {
        status: { type: 'integer', minimum: 200, maximum: 599 },
        percent,
        /** A string sent as is (text/plain); default: a fault-injected problem+json. */
        body: { type: 'string', maxLength: 65536 },
      },
    },
    delay: {
      type: 'object',
      additionalProperties: false,
      required: ['duration', 'percent'],
      properties: {
        duration: { type: 'string', pattern: DURATION_PATTERN, 'x-message': 'must be a duration such as 500ms or 2s' },
        percent,
      },
    },
  },
};

export interface FaultInjectionConfig {
  abort?: { status: number; percent: number; body?: string };
  delay?: { duration: string; percent: number };
}
