import { z } from 'zod';
import type { Config } from '../config.js';
import { quotaOverridesSchema, type QuotaOverrides } from '../db/entities/tenant.js';
import { UserError } from '../errors.js';

export type QuotaLimits = Required<QuotaOverrides>;
export type QuotaDefaults = Config['quotaDefaults'];

/** A guild's limits: its admins' overrides over the operator's defaults. */
export function effectiveLimits(defaults: QuotaDefaults, overrides: QuotaOverrides): QuotaLimits {
  return { ...defaults, ...quotaOverridesSchema.parse(overrides) };
}

/**
 * The limits admins can set, by the names they type in chat (`/quota set daily_minutes 90`),
 * each with how the typed value becomes the stored one.
 */
export const SETTABLE_LIMITS = {
  max_track_minutes: { field: 'maxTrackSeconds', parse: minutes(1, 24 * 60) },
  daily_minutes: { field: 'dailySeconds', parse: minutes(0, 24 * 60) },
  monthly_minutes: { field: 'monthlySeconds', parse: minutes(0, 31 * 24 * 60) },
  concurrent_jobs: { field: 'concurrentJobs', parse: wholeNumber(1, 50) },
  user_cooldown_seconds: { field: 'userCooldownSeconds', parse: wholeNumber(0, 24 * 3600) },
  allowed_models: { field: 'allowedModels', parse: modelList },
} as const satisfies Record<string, { field: keyof QuotaLimits; parse: (value: string) => unknown }>;
export type SettableLimit = keyof typeof SETTABLE_LIMITS;
export const settableLimitSchema = z.enum(Object.keys(SETTABLE_LIMITS) as [SettableLimit, ...SettableLimit[]]);

function minutes(min: number, max: number) {
  return (value: string): number => wholeNumber(min, max)(value) * 60;
}

function wholeNumber(min: number, max: number) {
  return (value: string): number => {
    const number = Number(value.trim());
    if (!Number.isInteger(number) || number < min || number > max) {
      throw new UserError('quota_bad_value', `That limit takes a whole number from ${min} to ${max}; you gave "${value}".`);
    }
    return number;
  };
}

function modelList(value: string): string[] {
  const models = value
    .split(/[\s,]+/)
    .map((model) => model.trim())
    .filter((model) => model !== '');
  if (models.length === 0) throw new UserError('quota_bad_value', 'Name at least one model, like htdemucs.');
  return models;
}
