import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { findTools, tempDir } from './fixtures.js';
import { rejectsWithUserError } from '../../support/user-error.js';


describe('locateFfmpeg', () => {
  it('finds ffmpeg and ffprobe on PATH', async () => {
    const tools = await findTools();
    expect(path.basename(tools.ffmpeg)).toBe('ffmpeg');
    expect(path.basename(tools.ffprobe)).toBe('ffprobe');
  });

  it('takes FFMPEG_PATH as the binary or as its folder, with ffprobe beside it', async () => {
    const real = await findTools();
    const dir = await tempDir('ffbin');
    await mkdir(path.join(dir, 'bin'));
    await symlink(real.ffmpeg, path.join(dir, 'bin', 'ffmpeg'));
    await symlink(real.ffprobe, path.join(dir, 'bin', 'ffprobe'));
    const expected = { ffmpeg: path.join(dir, 'bin', 'ffmpeg'), ffprobe: path.join(dir, 'bin', 'ffprobe') };
    await expect(locateFfmpeg({ ffmpegPath: path.join(dir, 'bin', 'ffmpeg'), searchPath: '' })).resolves.toEqual(expected);
    await expect(locateFfmpeg({ ffmpegPath: path.join(dir, 'bin'), searchPath: '' })).resolves.toEqual(expected);
  });

  it('says what to do when FFMPEG_PATH is wrong or nothing is on PATH', async () => {
    const wrong = await rejectsWithUserError(locateFfmpeg({ ffmpegPath: '/nowhere/ffmpeg', searchPath: process.env.PATH }));
    expect(wrong.code).toBe('ffmpeg_missing');
    expect(wrong.message).toContain('FFMPEG_PATH');
    expect(wrong.message).toContain('apt-get install ffmpeg');

    const none = await rejectsWithUserError(locateFfmpeg({ searchPath: '/nowhere:/also-not-here' }));
    expect(none.code).toBe('ffmpeg_missing');
    expect(none.message).toContain('apt-get install ffmpeg');
  });
});
