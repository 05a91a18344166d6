import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { Tenant } from './tenant.js';

export const USAGE_KINDS = ['reserve', 'commit', 'refund'] as const;
export type UsageKind = (typeof USAGE_KINDS)[number];

/**
 * The quota ledger: append-only rows of audio seconds reserved at submit, then committed on
 * success or refunded on failure. Usage in a window is reserve - refund over its rows. It has no
 * foreign key to the request because retention deletes requests while the ledger stays.
 */
export class UsageEntry {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'createdAt';
  id!: string;
  tenant!: Tenant;
  requestId!: string;
  userId!: string;
  kind!: UsageKind;
  audioSeconds!: number;
  createdAt: Date = new Date();
}

export const UsageEntrySchema = new EntitySchema<UsageEntry>({
  class: UsageEntry,
  tableName: 'usage_entry',
  // A request is reserved, committed and refunded at most once each: retried relay events are no-ops.
  uniques: [{ name: 'usage_entry_request_kind_unique', properties: ['requestId', 'kind'] }],
  indexes: [
    { name: 'usage_entry_tenant_created_at_index', properties: ['tenant', 'createdAt'] },
    { name: 'usage_entry_tenant_user_created_at_index', properties: ['tenant', 'userId', 'createdAt'] },
  ],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    tenant: { kind: 'm:1', entity: () => Tenant, deleteRule: 'restrict' },
    requestId: { type: 'uuid' },
    userId: { type: 'string', length: 64 },
    kind: { enum: true, items: () => [...USAGE_KINDS] },
    audioSeconds: { type: 'integer' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
  },
});
