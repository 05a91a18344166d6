import { EntitySchema, OptionalProps } from '@mikro-orm/core';

/**
 * A key stembot made for itself and keeps, by name (`links` signs the links to stems pages when
 * LINK_SECRET is not set). core/links/link-key.ts reads and creates it with plain statements; this
 * schema only keeps the entities and the migrations in agreement.
 */
export class SigningKey {
  [OptionalProps]?: 'createdAt';
  name!: string;
  key!: Buffer;
  createdAt: Date = new Date();
}

export const SigningKeySchema = new EntitySchema<SigningKey>({
  class: SigningKey,
  tableName: 'signing_key',
  properties: {
    name: { type: 'string', length: 64, primary: true },
    key: { type: 'blob' },
    createdAt: { type: 'Date', columnType: 'timestamptz', defaultRaw: 'now()' },
  },
});
