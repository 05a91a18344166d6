import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { Tenant } from './tenant.js';

/** Who changed which limit of a guild, from what to what: admins' changes are accountable. */
export class QuotaChange {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'createdAt';
  id!: string;
  tenant!: Tenant;
  changedBy!: string;
  /** A QuotaOverrides key, or `*` for a reset of every override. */
  field!: string;
  oldValue?: unknown;
  newValue?: unknown;
  createdAt: Date = new Date();
}

export const QuotaChangeSchema = new EntitySchema<QuotaChange>({
  class: QuotaChange,
  tableName: 'quota_change',
  indexes: [{ name: 'quota_change_tenant_created_at_index', properties: ['tenant', 'createdAt'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    tenant: { kind: 'm:1', entity: () => Tenant, deleteRule: 'cascade' },
    changedBy: { type: 'string', length: 64 },
    field: { type: 'string', length: 64 },
    oldValue: { type: 'json', nullable: true },
    newValue: { type: 'json', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
