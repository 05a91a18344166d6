import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { runStembot } from '../../support/cli.js';
import { FakeYouTube } from '../../support/fake-youtube.js';
import { makeTempDir } from '../../support/services.js';
import { makeSong } from '../../support/stembot-harness.js';

const SONG = 'checksong01';
const BLOCKED = 'checkblock1';

/**
 * The built CLI, as an operator runs it. yt-dlp is the real one behind YTDLP_PATH (a wrapper that
 * points YouTube links at local pages); ytdl goes to YouTube itself, which this machine cannot reach.
 */
describe('stembot youtube check', () => {
  let fake: FakeYouTube;
  let work: { dir: string; remove(): Promise<void> };
  let env: Record<string, string>;

  beforeAll(async () => {
    work = await makeTempDir('stembot-youtube-check-');
    const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
    const audio = await readFile(await makeSong(ffmpeg, path.join(work.dir, 'song.mp3'), 3));
    fake = await FakeYouTube.start({ [SONG]: { title: 'Check Song', seconds: 3, audio }, [BLOCKED]: { title: 'Blocked', seconds: 3, audio, pageStatus: 429 } });
    const wrapper = await fake.ytDlpWrapper(work.dir);
    env = { YTDLP_PATH: wrapper.program, TEMP_DIR: path.join(work.dir, 'temp'), LOG_LEVEL: 'silent' };
  });

  afterAll(async () => {
    await fake?.close();
    await work?.remove();
  });

  const check = async (link: string) => {
    const run = runStembot(['youtube', 'check', link], { cwd: work.dir, env });
    return { ...(await run.exited), stdout: run.stdout(), stderr: run.stderr() };
  };

  it('prints what each downloader got; exits 0 when one works, 1 when none does or the link is not a video', async () => {
    const [works, blocked, channel] = await Promise.all([check(`https://youtu.be/${SONG}`), check(`https://www.youtube.com/watch?v=${BLOCKED}`), check('https://www.youtube.com/@somechannel')]);

    expect(works.code, works.stderr).toBe(0);
    expect(works.stdout).toMatch(/^YOUTUBE_DOWNLOADER=auto: yt-dlp, then ytdl; without cookies \(YOUTUBE_COOKIES is not set\)$/m);
    expect(works.stdout).toMatch(/^yt-dlp \d{4}\.\d\d\.\d\d: ok: "Check Song" \(3 s\), audio flowing after \d+\.\d s$/m);
    expect(works.stdout).toMatch(/^ytdl \d+\.\d+\.\d+: failed \(network\): YouTube could not be reached; try again later\.\n {2}what to do: check this server's connection to YouTube/m);

    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toMatch(/^yt-dlp \S+: failed \(bot_check\): YouTube is refusing this server right now; try again later, or upload the file\.\n {2}what to do: set YOUTUBE_COOKIES/m);
    expect(blocked.stdout).toMatch(/^ {2}it said: ERROR: .*HTTP Error 429/m);
    expect(blocked.stderr).toBe('stembot: No downloader could get that video (see above).\n');

    // Nothing is tried for a link that names no video.
    expect(channel).toMatchObject({ code: 1, stdout: '', stderr: "stembot: That's a channel page, not a video; open one of its videos and paste that link.\n" });
  });
});
