import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { SETTABLE_LIMITS, effectiveLimits, settableLimit, type SettableLimit } from '../../core/quotas/limits.js';
import { UserError } from '../../core/errors.js';

/** The operator's settings: 10-minute tracks, 60 a day, 600 a month, 3 jobs, 60 s cooldown, two models. */
const operator = parseConfig({
  QUOTA_MAX_TRACK_MINUTES: '10',
  QUOTA_DAILY_MINUTES: '60',
  QUOTA_MONTHLY_MINUTES: '600',
  QUOTA_CONCURRENT_JOBS: '3',
  QUOTA_USER_COOLDOWN_SECONDS: '60',
  QUOTA_ALLOWED_MODELS: 'htdemucs,htdemucs_6s',
}).quotaDefaults;

/** What an admin's `/quota-admin set <limit> <value>` would store, or the refusal they would read. */
function typed(limit: SettableLimit, value: string): unknown {
  try {
    return SETTABLE_LIMITS[limit].parse(limit, value, operator);
  } catch (error) {
    if (error instanceof UserError) return `${error.code}: ${error.message}`;
    throw error;
  }
}

describe('guild limits inside the operator’s', () => {
  it('lets admins lower limits, lengthen the cooldown and narrow the models, down to the edges of the range', () => {
    expect(typed('max_track_minutes', '10')).toBe(600);
    expect(typed('max_track_minutes', ' 1 ')).toBe(60);
    expect(typed('daily_minutes', '0')).toBe(0);
    expect(typed('monthly_minutes', '600')).toBe(36_000);
    expect(typed('concurrent_jobs', '1')).toBe(1);
    expect(typed('user_cooldown_seconds', '60')).toBe(60);
    expect(typed('user_cooldown_seconds', '86400')).toBe(86_400);
    expect(typed('allowed_models', 'htdemucs_6s, htdemucs_6s')).toEqual(['htdemucs_6s']);
  });

  it('refuses values past the operator’s settings, naming the range and never the raw text', () => {
    expect(typed('max_track_minutes', '1440')).toBe('quota_bad_value: `max_track_minutes` takes a whole number from 1 to 10 on this bot; you gave 1440.');
    expect(typed('daily_minutes', '61')).toBe('quota_bad_value: `daily_minutes` takes a whole number from 0 to 60 on this bot; you gave 61.');
    expect(typed('monthly_minutes', '44640')).toBe('quota_bad_value: `monthly_minutes` takes a whole number from 0 to 600 on this bot; you gave 44640.');
    expect(typed('concurrent_jobs', '50')).toBe('quota_bad_value: `concurrent_jobs` takes a whole number from 1 to 3 on this bot; you gave 50.');
    expect(typed('user_cooldown_seconds', '0')).toBe('quota_bad_value: `user_cooldown_seconds` takes a whole number from 60 to 86400 on this bot; you gave 0.');
    expect(typed('allowed_models', 'htdemucs,htdemucs_ft')).toBe('quota_bad_value: `allowed_models` takes one or more of the models this bot offers: htdemucs, htdemucs_6s.');
    // Number() reads these as 16, 1000 and 0; an admin typing them did not mean a limit.
    for (const sneaky of ['0x10', '1e3', '', '@everyone']) expect(typed('concurrent_jobs', sneaky)).toBe('quota_bad_value: `concurrent_jobs` takes a whole number from 1 to 3 on this bot.');
  });

  it('refuses a limit name it does not have, listing the ones it has', () => {
    expect(() => settableLimit('gpu_hours')).toThrow(
      expect.objectContaining({ code: 'quota_unknown_limit', message: 'That is not a limit stembot has; choose one of `max_track_minutes`, `daily_minutes`, `monthly_minutes`, `concurrent_jobs`, `user_cooldown_seconds`, `allowed_models`.' }),
    );
    // Own properties only: `constructor` is on every object.
    expect(() => settableLimit('constructor')).toThrow(expect.objectContaining({ code: 'quota_unknown_limit' }));
  });

  it('holds overrides saved before the operator lowered a setting inside the current one', () => {
    const saved = { maxTrackSeconds: 86_400, dailySeconds: 1800, concurrentJobs: 50, userCooldownSeconds: 0, allowedModels: ['htdemucs_ft', 'htdemucs_6s'] };
    expect(effectiveLimits(operator, saved)).toEqual({
      maxTrackSeconds: 600,
      dailySeconds: 1800,
      monthlySeconds: 36_000,
      concurrentJobs: 3,
      userCooldownSeconds: 60,
      allowedModels: ['htdemucs_6s'],
    });
    // Every model the guild chose was withdrawn: back on the operator's list rather than on none.
    expect(effectiveLimits(operator, { allowedModels: ['htdemucs_ft'] }).allowedModels).toEqual(['htdemucs', 'htdemucs_6s']);
  });
});
