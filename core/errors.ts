import { YOUTUBE_REFUSAL_CODES } from './youtube.js';

/**
 * Every code a user-facing error carries, by the part of stembot that raises it. Codes are stable:
 * tests and adapters switch on them, and a failed job carries one through the queue to the chat.
 */
const USER_ERROR_CODES = {
  /** What a chat adapter refuses before core is asked. */
  chat: ['no_guild', 'not_admin', 'unknown_command', 'no_source', 'two_sources', 'unknown_stem', 'not_in_channel'],
  /** Submitting, listing and cancelling requests. */
  requests: ['bad_request', 'stem_missing', 'separation_failed', 'queue_unavailable', 'request_not_found', 'bad_cursor', 'not_your_request', 'already_finished', 'nothing_to_cancel', 'model_unavailable'],
  quotas: ['track_too_long', 'daily_quota', 'monthly_quota', 'model_not_allowed', 'too_many_jobs', 'cooldown', 'quota_bad_value', 'quota_unknown_limit'],
  youtube: [
    ...YOUTUBE_REFUSAL_CODES,
    'video_unavailable',
    'video_private',
    'age_restricted',
    'live_stream',
    'upcoming',
    'youtube_unreachable',
    'youtube_blocked',
    'youtube_changed',
    'youtube_failed',
    // The operator's: a downloader setting that cannot start the process, or `stembot youtube check`.
    'youtube_cookies',
    'ytdlp_missing',
  ],
  attachments: ['attachment_gone', 'attachment_host', 'attachment_redirects', 'attachment_slow', 'attachment_too_big', 'attachment_unreachable', 'attachment_unreadable', 'busy'],
  audio: ['audio_container', 'audio_empty', 'audio_longer_than_stated', 'audio_missing', 'audio_not_audio', 'audio_probe_timeout', 'audio_undecodable', 'ffmpeg_missing'],
  models: [
    'model_ambiguous',
    'model_checksum_mismatch',
    'model_contract',
    'model_corrupt',
    'model_download_failed',
    'model_metadata',
    'model_metadata_invalid',
    'model_missing',
    'model_name_invalid',
    'model_name_taken',
    'model_no_download',
    'model_not_found',
    'model_not_onnx',
    'model_registry_invalid',
    'model_sidecar_invalid',
    'model_source_names',
    'model_unknown',
    'model_verify_failed',
    'models_dir_unwritable',
    'cuda_unavailable',
  ],
  /** Running a job or the CLI. */
  jobs: ['cancelled', 'given_up', 'separation_gone', 'bad_overlap', 'disk_full', 'output_unwritable', 'bad_option', 'filename_outside_output', 'discord_not_configured'],
} as const;

export type UserErrorCode = (typeof USER_ERROR_CODES)[keyof typeof USER_ERROR_CODES][number];

/**
 * Why a request failed without a UserError of that code: core's own bookkeeping, a worker's
 * failure told in other words (`storage_unwritable`), or a bug (`internal`, logged).
 */
const FAILURE_CODES = ['internal', 'job_lost', 'job_stalled', 'not_queued', 'storage_unwritable'] as const;

/** The code a failed request carries: a user's error, or one of core's own failures. */
export type ErrorCode = UserErrorCode | (typeof FAILURE_CODES)[number];

const ERROR_CODES: ReadonlySet<string> = new Set<string>([...Object.values(USER_ERROR_CODES).flat(), ...FAILURE_CODES]);

/** Codes come back as text from the queue and the database; one stembot does not know is `internal`. */
export function toErrorCode(text: string): ErrorCode {
  return ERROR_CODES.has(text) ? (text as ErrorCode) : 'internal';
}

/**
 * Errors a user may read. `code` is stable (tests and adapters switch on it); `message` is one or
 * two short sentences that say what went wrong and what to do next, worded for chat or a terminal.
 */
export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: UserErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Settings that cannot start the process; every problem is listed, one line each. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError;
}
