import type { EntityManager } from '@mikro-orm/postgresql';
import type { Tenant } from '../db/entities/index.js';
import { SeparationRequest, UsageEntry } from '../db/entities/index.js';
import { UserError } from '../errors.js';
import { effectiveLimits, type QuotaDefaults, type QuotaLimits } from './limits.js';
import { dayWindow, monthWindow, type QuotaWindow } from './quota-windows.js';

/** Seconds reserved minus seconds refunded in a window: what a guild has used. */
export async function usedSeconds(em: EntityManager, tenantId: string, window: QuotaWindow): Promise<number> {
  const [row] = await em.execute<{ used: number }[]>(
    `select coalesce(sum(case kind when 'reserve' then audio_seconds when 'refund' then -audio_seconds else 0 end), 0)::int as used
       from usage_entry where tenant_id = ? and created_at >= ? and created_at < ?`,
    [tenantId, window.start, window.end],
  );
  return row?.used ?? 0;
}

export async function activeJobs(em: EntityManager, tenantId: string): Promise<number> {
  return em.count(SeparationRequest, { tenant: tenantId, state: { $in: ['queued', 'running'] } });
}

/** `2 h 3 min`, `1 min 15 s`, `40 s`: how long, as people say it. */
export function formatDuration(totalSeconds: number): string {
  const seconds = Math.round(totalSeconds);
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  if (hours > 0) return minutes > 0 ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes > 0) return rest > 0 ? `${minutes} min ${rest} s` : `${minutes} min`;
  return `${rest} s`;
}

export interface ReserveInput {
  tenant: Tenant;
  userId: string;
  requestId: string;
  model: string;
  audioSeconds: number;
  /** A cache hit still counts against concurrency and cooldown but reserves no audio time. */
  free: boolean;
  now: Date;
  defaults: QuotaDefaults;
}

/**
 * Checks every limit and writes the reserve row. The caller holds the tenant row locked
 * (`select ... for update`) in the same transaction, so concurrent submits for one guild are
 * checked one after another and N racing requests admit exactly what fits.
 */
export async function reserveQuota(em: EntityManager, input: ReserveInput): Promise<QuotaLimits> {
  const limits = effectiveLimits(input.defaults, input.tenant.quotaOverrides);
  checkModel(limits, input.model);
  if (input.audioSeconds > limits.maxTrackSeconds) {
    throw new UserError('track_too_long', `This track is ${formatDuration(input.audioSeconds)}; the limit here is ${formatDuration(limits.maxTrackSeconds)}.`);
  }
  await checkJobsAndCooldown(em, input, limits);
  if (!input.free) {
    const day = await usedSeconds(em, input.tenant.id, dayWindow(input.now));
    if (day + input.audioSeconds > limits.dailySeconds) {
      throw new UserError('daily_quota', `There is ${formatDuration(Math.max(0, limits.dailySeconds - day))} of separation left here today and this track needs ${formatDuration(input.audioSeconds)}; it resets at 00:00 UTC.`);
    }
    const month = await usedSeconds(em, input.tenant.id, monthWindow(input.now));
    if (month + input.audioSeconds > limits.monthlySeconds) throw monthlyQuota(limits);
    em.create(UsageEntry, { tenant: input.tenant, requestId: input.requestId, userId: input.userId, kind: 'reserve', audioSeconds: input.audioSeconds, createdAt: input.now });
  }
  return limits;
}

export type PrecheckInput = Omit<ReserveInput, 'requestId' | 'audioSeconds'>;

/**
 * The limits that need no track length (model, concurrent jobs, cooldown, any minutes left), checked
 * before the source is looked at: a user in cooldown or a guild at its limits then costs no
 * download, probe or YouTube lookup. Nothing is locked or written; reserveQuota checks everything
 * again under the tenant lock once the length is known.
 */
export async function precheckQuota(em: EntityManager, input: PrecheckInput): Promise<void> {
  const limits = effectiveLimits(input.defaults, input.tenant.quotaOverrides);
  checkModel(limits, input.model);
  await checkJobsAndCooldown(em, input, limits);
  if (input.free) return;
  if ((await usedSeconds(em, input.tenant.id, dayWindow(input.now))) >= limits.dailySeconds) {
    throw new UserError('daily_quota', 'There is no separation time left here today; it resets at 00:00 UTC.');
  }
  if ((await usedSeconds(em, input.tenant.id, monthWindow(input.now))) >= limits.monthlySeconds) throw monthlyQuota(limits);
}

function checkModel(limits: QuotaLimits, model: string): void {
  if (!limits.allowedModels.includes(model)) {
    throw new UserError('model_not_allowed', `The ${model} model is not allowed here; the allowed ones are ${limits.allowedModels.join(', ')}.`);
  }
}

async function checkJobsAndCooldown(em: EntityManager, input: PrecheckInput, limits: QuotaLimits): Promise<void> {
  if ((await activeJobs(em, input.tenant.id)) >= limits.concurrentJobs) {
    throw new UserError('too_many_jobs', `Separations running here are at their limit of ${limits.concurrentJobs}; try again when one finishes.`);
  }
  if (limits.userCooldownSeconds > 0) {
    const last = await em.findOne(SeparationRequest, { tenant: input.tenant.id, userId: input.userId }, { orderBy: { createdAt: 'desc' }, fields: ['createdAt'] });
    const waitSeconds = last ? Math.ceil(limits.userCooldownSeconds - (input.now.getTime() - last.createdAt.getTime()) / 1000) : 0;
    if (waitSeconds > 0) throw new UserError('cooldown', `Please wait ${waitSeconds} s before your next separation.`);
  }
}

function monthlyQuota(limits: QuotaLimits): UserError {
  return new UserError('monthly_quota', `This month's ${formatDuration(limits.monthlySeconds)} of separation here is used up; it resets on the 1st (UTC).`);
}

/**
 * Settles a reservation once: `commit` on success, `refund` on failure or cancel. Safe to call
 * again (a retried relay event): the ledger's unique (request, kind) makes the second a no-op.
 * The settling row takes the reservation's timestamp, so a refund gives the time back to the
 * day and month it was taken from.
 */
export async function settleQuota(em: EntityManager, requestId: string, kind: 'commit' | 'refund'): Promise<boolean> {
  const inserted = await em.execute<{ id: string }[]>(
    `insert into usage_entry (tenant_id, request_id, user_id, kind, audio_seconds, created_at)
     select tenant_id, request_id, user_id, ?, audio_seconds, created_at from usage_entry
      where request_id = ? and kind = 'reserve'
        and not exists (select 1 from usage_entry where request_id = ? and kind in ('commit', 'refund'))
     on conflict (request_id, kind) do nothing returning id`,
    [kind, requestId, requestId],
  );
  return inserted.length > 0;
}
