import { UserError } from '../../core/errors.js';
import type { PlatformMessage, RequestOptions } from '../../core/db/entities/separation-request.js';
import type { Platform } from '../../core/db/entities/tenant.js';
import type { SubmitInput } from '../../core/requests/submit.js';
import { parseYouTubeUrl } from '../../core/youtube.js';

/** The stem sets a user picks from, as every platform offers them (name shown, value sent). */
export const STEM_CHOICES = [
  { name: 'All four stems', value: 'all' },
  { name: 'Karaoke: vocals + accompaniment', value: 'karaoke' },
  { name: 'Vocals + the rest', value: 'vocals' },
  { name: 'Drums + the rest', value: 'drums' },
  { name: 'Bass + the rest', value: 'bass' },
  { name: 'Other + the rest', value: 'other' },
];

/** A user's ask as a platform read it, before any of it is trusted. */
export interface ChatAsk {
  platform: Platform;
  tenantId: string;
  tenantName?: string;
  userId: string;
  channelId: string;
  platformMessage: PlatformMessage;
  link?: string;
  /** `teamId`: the Slack workspace that holds the file, whose token downloads it. */
  file?: { url: string; filename: string; bytes: number; teamId?: string };
  /** One of STEM_CHOICES' values; absent means all. */
  stems?: string;
  /** Absent means mp3; anything else core's schema checks. */
  format?: string;
  model?: string;
  /** The platform's per-file upload limit where it told us: lossy stems are sized to fit. */
  maxFileBytes?: number;
  /** false: no preview while the whole song runs; absent means one, where the operator allows it. */
  preview?: boolean;
}

/**
 * A platform-neutral ask made into core's SubmitInput. `noSourceHelp` is the platform's own words
 * for giving a link or a file (its option names differ), shown when neither was given.
 */
export function buildSubmitInput(ask: ChatAsk, noSourceHelp: string): SubmitInput {
  return {
    platform: ask.platform,
    tenantId: ask.tenantId,
    tenantName: ask.tenantName,
    userId: ask.userId,
    channelId: ask.channelId,
    platformMessage: ask.platformMessage,
    source: sourceOf(ask, noSourceHelp),
    model: ask.model,
    // The format is checked by core's schema, which refuses anything but the listed ones.
    options: { ...stemOptions(ask.stems), format: (ask.format ?? 'mp3') as RequestOptions['format'], maxFileBytes: ask.maxFileBytes, ...(ask.preview === false ? { preview: false } : {}) },
  };
}

export function stemOptions(choice: string | undefined): Pick<RequestOptions, 'stems' | 'stem'> {
  if (!choice || choice === 'all') return { stems: 'all' };
  if (choice === 'karaoke') return { stems: 'karaoke' };
  // Platforms send only a listed choice; anything else is a forged request, and the stem later
  // picks a stored file, so it is refused here in the command's own words.
  if (!STEM_CHOICES.some((listed) => listed.value === choice)) {
    throw new UserError('unknown_stem', `Pick one of the offered stems: ${STEM_CHOICES.map((listed) => listed.value).join(', ')}.`);
  }
  return { stems: 'single', stem: choice };
}

export function sourceOf(ask: Pick<ChatAsk, 'platform' | 'link' | 'file'>, noSourceHelp: string): SubmitInput['source'] {
  if (ask.link && ask.file) throw new UserError('two_sources', 'Give either a link or a file, not both.');
  if (ask.file) return { kind: 'attachment', platform: ask.platform, ...ask.file };
  if (!ask.link) throw new UserError('no_source', noSourceHelp);
  const parsed = parseYouTubeUrl(ask.link);
  if (!parsed.ok) throw new UserError(parsed.code, parsed.message);
  return { kind: 'youtube', videoId: parsed.videoId, ...(parsed.startSeconds ? { startSeconds: parsed.startSeconds } : {}) };
}
