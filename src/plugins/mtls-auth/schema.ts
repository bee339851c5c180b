export const mtlsAuthSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** Which part of the verified client certificate names the consumer (its username). */
    consumer_by: { enum: ['subject_cn', 'san_uri', 'san_dns'] },
    /** A PEM file: the certificate must also be issued by this CA (on top of the listener's client_ca). */
    ca: { type: 'string', minLength: 1 },
    realm: { type: 'string', minLength: 1 },
  },
};

export interface MtlsAuthConfig {
  consumer_by?: 'subject_cn' | 'san_uri' | 'san_dns';
  ca?: string;
  realm?: string;
}
