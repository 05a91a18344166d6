import type { EntityManager } from '@mikro-orm/postgresql';
import { Tenant, type Platform } from './db/entities/tenant.js';

export interface TenantRef {
  platform: Platform;
  /** The guild id (Discord) or team id (Slack). */
  externalId: string;
  name?: string;
}

/** The tenant row for a guild, created on first contact; concurrent first contacts make one row. */
export async function ensureTenant(em: EntityManager, ref: TenantRef): Promise<Tenant> {
  const existing = await em.findOne(Tenant, { platform: ref.platform, externalId: ref.externalId });
  if (existing) return existing;
  await em.execute(
    `insert into tenant (id, platform, external_id, name, quota_overrides, created_at, updated_at)
     values (gen_random_uuid(), ?, ?, ?, '{}', now(), now()) on conflict (platform, external_id) do nothing`,
    [ref.platform, ref.externalId, ref.name ?? null],
  );
  return em.findOneOrFail(Tenant, { platform: ref.platform, externalId: ref.externalId });
}

/** The tenant row locked for the rest of the transaction: quota checks for one guild run one at a time. */
export async function lockTenant(em: EntityManager, tenantId: string): Promise<Tenant> {
  await em.execute('select id from tenant where id = ? for update', [tenantId]);
  return em.findOneOrFail(Tenant, tenantId, { refresh: true });
}
