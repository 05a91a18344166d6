import { z } from 'zod';
import type { Config } from '../config.js';
import { quotaOverridesSchema, type QuotaOverrides } from '../db/entities/tenant.js';
import { UserError } from '../errors.js';

export type QuotaLimits = Required<QuotaOverrides>;
/**
 * The operator's QUOTA_* settings. Every guild starts on them, and they bound what its admins may
 * set, since admins are trusted only within the operator's limits: shorter tracks, fewer minutes
 * and jobs, a longer cooldown, fewer models; never the other way.
 */
export type QuotaDefaults = Config['quotaDefaults'];

/**
 * A guild's limits: its admins' overrides over the operator's defaults, held inside the operator's
 * bounds. Stored overrides are clamped here, not only when an admin sets them, so one saved before
 * the operator lowered a setting does not outlive it.
 */
export function effectiveLimits(defaults: QuotaDefaults, overrides: QuotaOverrides): QuotaLimits {
  const set = quotaOverridesSchema.parse(overrides);
  const models = (set.allowedModels ?? []).filter((model) => defaults.allowedModels.includes(model));
  return {
    maxTrackSeconds: Math.min(set.maxTrackSeconds ?? Infinity, defaults.maxTrackSeconds),
    dailySeconds: Math.min(set.dailySeconds ?? Infinity, defaults.dailySeconds),
    monthlySeconds: Math.min(set.monthlySeconds ?? Infinity, defaults.monthlySeconds),
    concurrentJobs: Math.min(set.concurrentJobs ?? Infinity, defaults.concurrentJobs),
    userCooldownSeconds: Math.max(set.userCooldownSeconds ?? 0, defaults.userCooldownSeconds),
    // A guild whose chosen models the operator has since withdrawn falls back to the operator's
    // list: every model on it is one the operator allows, and "none" would stop the guild outright.
    allowedModels: models.length > 0 ? models : defaults.allowedModels,
  };
}

/** A typed value, within the operator's bounds, as it is stored; UserError naming the range otherwise. */
type LimitParser<T = QuotaLimits[keyof QuotaLimits]> = (name: string, value: string, bounds: QuotaDefaults) => T;

/** Cooldowns longer than a day are not a limit any more, they are a ban. */
const MAX_COOLDOWN_SECONDS = 24 * 3600;

/**
 * The limits admins can set, by the names they type in chat (`/quota-admin set daily_minutes 90`),
 * each with how the typed value becomes the stored one and the range the operator leaves them.
 */
export const SETTABLE_LIMITS = {
  max_track_minutes: { field: 'maxTrackSeconds', parse: minutes(1, (bounds) => bounds.maxTrackSeconds) },
  daily_minutes: { field: 'dailySeconds', parse: minutes(0, (bounds) => bounds.dailySeconds) },
  monthly_minutes: { field: 'monthlySeconds', parse: minutes(0, (bounds) => bounds.monthlySeconds) },
  concurrent_jobs: { field: 'concurrentJobs', parse: wholeNumber(() => 1, (bounds) => bounds.concurrentJobs) },
  user_cooldown_seconds: {
    field: 'userCooldownSeconds',
    parse: wholeNumber(
      (bounds) => bounds.userCooldownSeconds,
      (bounds) => Math.max(MAX_COOLDOWN_SECONDS, bounds.userCooldownSeconds),
    ),
  },
  allowed_models: { field: 'allowedModels', parse: modelList },
} as const satisfies Record<string, { field: keyof QuotaLimits; parse: LimitParser }>;
export type SettableLimit = keyof typeof SETTABLE_LIMITS;
export const settableLimitSchema = z.enum(Object.keys(SETTABLE_LIMITS) as [SettableLimit, ...SettableLimit[]]);

/** The limit an admin named, or a refusal listing the real ones (a modified client can send any name). */
export function settableLimit(name: string): SettableLimit {
  const parsed = settableLimitSchema.safeParse(name);
  if (!parsed.success) throw new UserError('quota_unknown_limit', `That is not a limit stembot has; choose one of ${settableLimitSchema.options.map((option) => `\`${option}\``).join(', ')}.`);
  return parsed.data;
}

function minutes(min: number, maxSeconds: (bounds: QuotaDefaults) => number): LimitParser<number> {
  const parseMinutes = wholeNumber(() => min, (bounds) => Math.floor(maxSeconds(bounds) / 60));
  return (name, value, bounds) => parseMinutes(name, value, bounds) * 60;
}

function wholeNumber(min: (bounds: QuotaDefaults) => number, max: (bounds: QuotaDefaults) => number): LimitParser<number> {
  return (name, value, bounds) => {
    const [low, high] = [min(bounds), max(bounds)];
    const range = `\`${name}\` takes a whole number from ${low} to ${high} on this bot`;
    // Digits only: Number() would also take "", "0x10" and "1e3".
    const typed = value.trim();
    if (!/^\d{1,9}$/.test(typed)) throw new UserError('quota_bad_value', `${range}.`);
    const number = Number(typed);
    // The typed text is echoed only once it is known to be a number: it lands in a chat message.
    if (number < low || number > high) throw new UserError('quota_bad_value', `${range}; you gave ${number}.`);
    return number;
  };
}

function modelList(name: string, value: string, bounds: QuotaDefaults): string[] {
  const models = [
    ...new Set(
      value
        .split(/[\s,]+/)
        .map((model) => model.trim())
        .filter((model) => model !== ''),
    ),
  ];
  const refusal = `\`${name}\` takes one or more of the models this bot offers: ${bounds.allowedModels.join(', ')}.`;
  // Unknown names are not repeated back: they are whatever the admin typed, and land in a chat message.
  if (models.length === 0 || models.some((model) => !bounds.allowedModels.includes(model))) throw new UserError('quota_bad_value', refusal);
  return models;
}
