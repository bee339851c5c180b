const group = { type: 'string', minLength: 1 };

export const aclSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    allow: { type: 'array', minItems: 1, items: group },
    deny: { type: 'array', minItems: 1, items: group },
  },
};

export interface AclConfig {
  allow?: string[];
  deny?: string[];
}
