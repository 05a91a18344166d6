import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { z } from 'zod';

export const PLATFORMS = ['discord', 'slack'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** Limits a guild's admins set for themselves; an absent field means "the configured default". */
export const quotaOverridesSchema = z
  .object({
    maxTrackSeconds: z.number().int().positive(),
    dailySeconds: z.number().int().nonnegative(),
    monthlySeconds: z.number().int().nonnegative(),
    concurrentJobs: z.number().int().positive(),
    userCooldownSeconds: z.number().int().nonnegative(),
    allowedModels: z.array(z.string().min(1)).min(1),
  })
  .partial();
export type QuotaOverrides = z.infer<typeof quotaOverridesSchema>;

/** A Discord guild or a Slack workspace: the unit quotas are counted and set for. */
export class Tenant {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'quotaOverrides' | 'createdAt' | 'updatedAt';
  id: string = randomUUID();
  platform!: Platform;
  externalId!: string;
  name?: string;
  quotaOverrides: QuotaOverrides = {};
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const TenantSchema = new EntitySchema<Tenant>({
  class: Tenant,
  tableName: 'tenant',
  uniques: [{ name: 'tenant_platform_external_id_unique', properties: ['platform', 'externalId'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    platform: { enum: true, items: () => [...PLATFORMS] },
    externalId: { type: 'string', length: 64 },
    name: { type: 'string', length: 200, nullable: true },
    quotaOverrides: { type: 'json' },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', onUpdate: () => new Date() },
  },
});
