const cidrList = { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 };

export const ipRestrictionSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Only these addresses may pass (when given). */
    allow: cidrList,
    /** These addresses never pass; wins over `allow`. */
    deny: cidrList,
    /** The `detail` of the 403 problem. */
    message: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

export interface IpRestrictionConfig {
  allow?: string[];
  deny?: string[];
  message?: string;
}
