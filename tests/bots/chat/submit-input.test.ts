import { describe, expect, it } from 'vitest';
import { modelChoices } from '../../../bots/chat/model-choices.js';
import { STEM_CHOICES, buildSubmitInput, sourceOf, stemOptions, type ChatAsk } from '../../../bots/chat/submit-input.js';
import { UserError } from '../../../core/errors.js';

const HELP = 'Give a link or a file.';
const ask: ChatAsk = { platform: 'slack', tenantId: 'T1', userId: 'U1', channelId: 'C1', platformMessage: { ts: '1.2' }, link: 'https://youtu.be/dQw4w9WgXcQ?t=42' };

function refusal(run: () => unknown): UserError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('expected a refusal');
}

describe('stem options', () => {
  it('maps every offered choice, and no choice, to core options', () => {
    expect(stemOptions(undefined)).toEqual({ stems: 'all' });
    expect(stemOptions('all')).toEqual({ stems: 'all' });
    expect(stemOptions('karaoke')).toEqual({ stems: 'karaoke' });
    for (const stem of ['vocals', 'drums', 'bass', 'other']) expect(stemOptions(stem)).toEqual({ stems: 'single', stem });
    expect(STEM_CHOICES.map((choice) => choice.value)).toEqual(['all', 'karaoke', 'vocals', 'drums', 'bass', 'other']);
  });

  it('refuses a stem nobody offered, a path above all', () => {
    const refused = refusal(() => stemOptions('../other-separation/vocals'));
    expect(refused.code).toBe('unknown_stem');
    expect(refused.message).toBe('Pick one of the offered stems: all, karaoke, vocals, drums, bass, other.');
  });
});

describe('sources', () => {
  it('reads a YouTube link with its start time, and a file on the asking platform', () => {
    expect(sourceOf(ask, HELP)).toEqual({ kind: 'youtube', videoId: 'dQw4w9WgXcQ', startSeconds: 42 });
    const file = { url: 'https://files.slack.com/a.mp3', filename: 'a.mp3', bytes: 10 };
    expect(sourceOf({ platform: 'slack', file }, HELP)).toEqual({ kind: 'attachment', platform: 'slack', ...file });
  });

  it('refuses both, neither (in the platform’s words) and a link that is not a video', () => {
    expect(refusal(() => sourceOf({ ...ask, file: { url: 'https://x.example/a.mp3', filename: 'a.mp3', bytes: 1 } }, HELP)).code).toBe('two_sources');
    expect(refusal(() => sourceOf({ platform: 'discord' }, HELP))).toMatchObject({ code: 'no_source', message: HELP });
    expect(refusal(() => sourceOf({ platform: 'discord', link: 'https://www.youtube.com/playlist?list=PL1' }, HELP)).code).toBe('playlist_without_video');
  });
});

describe('buildSubmitInput', () => {
  it('builds core’s input from an ask, defaulting to mp3 and carrying the platform’s file limit', () => {
    expect(buildSubmitInput({ ...ask, stems: 'drums', model: 'htdemucs', maxFileBytes: 8 }, HELP)).toEqual({
      platform: 'slack',
      tenantId: 'T1',
      tenantName: undefined,
      userId: 'U1',
      channelId: 'C1',
      platformMessage: { ts: '1.2' },
      source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ', startSeconds: 42 },
      model: 'htdemucs',
      options: { stems: 'single', stem: 'drums', format: 'mp3', maxFileBytes: 8 },
    });
    expect(buildSubmitInput({ ...ask, format: 'flac' }, HELP).options).toEqual({ stems: 'all', format: 'flac', maxFileBytes: undefined });
    expect(buildSubmitInput({ ...ask, preview: false }, HELP).options).toStrictEqual({ stems: 'all', format: 'mp3', maxFileBytes: undefined, preview: false });
    // Only a no is written down: core and the operator's setting decide the rest.
    expect(buildSubmitInput({ ...ask, preview: true }, HELP).options).not.toHaveProperty('preview');
  });
});

describe('model choices', () => {
  it('offers allowed models the bot knows that contain what was typed, in the tenant’s order, capped', () => {
    const allowed = ['htdemucs', 'htdemucs_6s', 'htdemucs_ft', 'withdrawn'];
    const known = ['htdemucs_ft', 'htdemucs', 'htdemucs_6s', 'extra'];
    expect(modelChoices({ allowed, known, typed: '', max: 25 })).toEqual(['htdemucs', 'htdemucs_6s', 'htdemucs_ft']);
    expect(modelChoices({ allowed, known, typed: 'FT', max: 25 })).toEqual(['htdemucs_ft']);
    expect(modelChoices({ allowed, known, typed: 'demucs', max: 2 })).toEqual(['htdemucs', 'htdemucs_6s']);
  });
});
