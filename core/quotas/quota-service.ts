import type { EntityManager } from '@mikro-orm/postgresql';
import { QuotaChange } from '../db/entities/index.js';
import type { QuotaOverrides } from '../db/entities/tenant.js';
import { ensureTenant, lockTenant, type TenantRef } from '../tenants.js';
import { SETTABLE_LIMITS, effectiveLimits, settableLimit, type QuotaDefaults, type QuotaLimits } from './limits.js';
import { activeJobs, usedSeconds } from './quota-ledger.js';
import { dayWindow, monthWindow } from './quota-windows.js';

export interface QuotaReport {
  limits: QuotaLimits;
  /** Which limits the guild's admins changed from the operator's defaults. */
  overridden: (keyof QuotaLimits)[];
  day: { usedSeconds: number; limitSeconds: number; resetsAt: Date };
  month: { usedSeconds: number; limitSeconds: number; resetsAt: Date };
  activeJobs: number;
}

/** `quota.show / set / reset`: admin checks are the adapter's job; core records who changed what. */
export class QuotaService {
  constructor(
    private readonly em: EntityManager,
    private readonly defaults: QuotaDefaults,
  ) {}

  async show(ref: TenantRef, now = new Date()): Promise<QuotaReport> {
    const em = this.em.fork();
    const tenant = await ensureTenant(em, ref);
    const limits = effectiveLimits(this.defaults, tenant.quotaOverrides);
    const day = dayWindow(now);
    const month = monthWindow(now);
    return {
      limits,
      overridden: Object.keys(tenant.quotaOverrides) as (keyof QuotaLimits)[],
      day: { usedSeconds: await usedSeconds(em, tenant.id, day), limitSeconds: limits.dailySeconds, resetsAt: day.end },
      month: { usedSeconds: await usedSeconds(em, tenant.id, month), limitSeconds: limits.monthlySeconds, resetsAt: month.end },
      activeJobs: await activeJobs(em, tenant.id),
    };
  }

  /**
   * Sets one limit from what an admin typed (`daily_minutes 90`), within the operator's bounds.
   * An unknown limit or a value out of range is a UserError naming what is allowed; nothing is saved.
   */
  async set(ref: TenantRef, limit: string, value: string, changedBy: string): Promise<QuotaLimits> {
    const name = settableLimit(limit);
    const { field, parse } = SETTABLE_LIMITS[name];
    const parsed = parse(name, value, this.defaults);
    return this.change(ref, changedBy, (overrides) => [{ ...overrides, [field]: parsed }, [{ field, oldValue: overrides[field], newValue: parsed }]]);
  }

  /** Drops every override: the guild is back on the operator's defaults. */
  async reset(ref: TenantRef, changedBy: string): Promise<QuotaLimits> {
    return this.change(ref, changedBy, (overrides) => [{}, [{ field: '*', oldValue: overrides, newValue: null }]]);
  }

  private async change(
    ref: TenantRef,
    changedBy: string,
    apply: (overrides: QuotaOverrides) => [QuotaOverrides, { field: string; oldValue: unknown; newValue: unknown }[]],
  ): Promise<QuotaLimits> {
    const tenantId = (await ensureTenant(this.em.fork(), ref)).id;
    return this.em.fork().transactional(async (tx) => {
      const em = tx as EntityManager;
      const tenant = await lockTenant(em, tenantId);
      const [next, changes] = apply(tenant.quotaOverrides);
      tenant.quotaOverrides = next;
      for (const change of changes) em.create(QuotaChange, { tenant, changedBy, ...change });
      await em.flush();
      return effectiveLimits(this.defaults, next);
    });
  }
}
