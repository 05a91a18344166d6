/**
 * Previews end to end: the real discord.js client and Bolt app against the fake Discord and the fake
 * Slack, with the real core, relay and worker. A long enough song (at least twice PREVIEW_SECONDS)
 * posts the stems of a PREVIEW_SECONDS excerpt (from the link's `t=`, else a third of the way in) in
 * the request's message or thread first, then the whole song's stems. Each deployment runs it from
 * its own file (preview.<deployment>.test.ts): every deployment both platforms' main paths, the
 * embedded one the edge cases too. The operator's PREVIEW_SECONDS here is 10 s rather than the
 * default 30 s, and the song 24 s: the flow and its arithmetic are the same, for a third of the audio.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordRole } from '../../../bots/discord/discord-role.js';
import { registerDiscordCommands } from '../../../bots/discord/register-commands.js';
import { startSlackRole } from '../../../bots/slack/slack-role.js';
import { Separation, UsageEntry } from '../../../core/db/entities/index.js';
import type { RoleHandle } from '../../../core/queue/relay-role.js';
import { locateFfmpeg } from '../../../worker/audio/ffmpeg.js';
import { probeAudio } from '../../../worker/audio/probe.js';
import { FakeDiscord, TestClock, defaultGuild, type FakeInteraction, type StoredAttachment, type StoredMessage } from '../../support/fake-discord/index.js';
import { FakeSlack, defaultWorld } from '../../support/fake-slack/index.js';
import { LocalVideoSource } from '../../support/local-sources.js';
import { makeTempDir } from '../../support/services.js';
import { makeSong, repeatSong, startHarness, type Deployment, type Harness } from '../../support/stembot-harness.js';
import { rawSamples, rms } from '../../worker/audio/fixtures.js';

const exec = promisify(execFile);

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const BOB = '1100000000000000101';
const ACME = 'T0ACME';
const SLACK_GENERAL = 'C0ACMEGEN';
const SLACK_BOB = 'U0BOB';
/** Videos, each its own copy of the song, so each is its own separation and its downloads count apart. */
const VIDEOS = { discord: 'halvesdisc1', slack: 'halvesslack', noPreview: 'halvesnone1', failing: 'halvesfail1', short: 'shortsong01', long: 'longsong001' } as const;
const LINK = (id: string) => `https://youtu.be/${id}`;
/** PREVIEW_SECONDS as the operator set it here. */
const PREVIEW_SECONDS = 10;
const SONG_SECONDS = 24;
/** A third of the way in is 0:08, so the Slack case's excerpt (0:08–0:18) is quiet for its first 5 s and loud for its last 5 s. */
const QUIET_UNTIL = 13;
const SAMPLE_RATE = 44100;
/** The preview: every stem of the model, whatever the request asked for. */
const PREVIEW_STEMS = ['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3'].map((name) => `preview-${name}`);
/** What the requests here ask for: half the files of all four to render, so half the wait. */
const KARAOKE = ['accompaniment.mp3', 'vocals.mp3', 'waveforms.png'];
const isPreview = (name: string) => name.startsWith('preview-');

/** 24 s of a plain chord, quiet until 0:13 and loud after: where a preview was cut from shows in its loudness. */
async function makeHalves(ffmpeg: string, file: string): Promise<string> {
  const tone = `(0.02+0.28*gte(t\\,${QUIET_UNTIL}))*(sin(2*PI*220*t)+0.5*sin(2*PI*330*t))`;
  await exec(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `aevalsrc=${tone}|${tone}:s=${SAMPLE_RATE}:d=${SONG_SECONDS}`, '-c:a', 'libmp3lame', '-b:a', '128k', file]);
  return file;
}

/**
 * ffmpeg behind a switch: once `fill()` is called, encoding the masters fails the way a full disk
 * makes it fail, while the preview's small mp3s (written before them) still go through.
 */
async function diskThatFills(dir: string, ffmpeg: string): Promise<{ path: string; fill(): Promise<void>; free(): Promise<void> }> {
  const marker = path.join(dir, 'disk-full');
  const wrapper = path.join(dir, 'ffmpeg');
  const script = [
    '#!/bin/sh',
    `if [ -e '${marker}' ]; then`,
    '  for arg in "$@"; do case "$arg" in */masters/*) echo "No space left on device" >&2; exit 1;; esac; done',
    'fi',
    `exec '${ffmpeg}' "$@"`,
  ];
  await writeFile(wrapper, `${script.join('\n')}\n`);
  await chmod(wrapper, 0o755);
  return { path: wrapper, fill: () => writeFile(marker, ''), free: () => rm(marker, { force: true }) };
}

interface Heard {
  seconds: number;
  /** Loudness (RMS) of the first and the last 5 s. */
  head: number;
  tail: number;
}

/** `discord` and `slack`: each platform's main path; `edges`: no preview, a failure and a cancel after one. */
export type PreviewCases = 'discord' | 'slack' | 'edges';

export function previewEndToEnd(deployment: Deployment, cases: PreviewCases[]): void {
  let discord: FakeDiscord;
  let slack: FakeSlack;
  let harness: Harness;
  let roles: RoleHandle[];
  let songs: { dir: string; remove(): Promise<void> };
  let tools: { ffmpeg: string; ffprobe: string };
  let disk: Awaited<ReturnType<typeof diskThatFills>>;
  let source: LocalVideoSource;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    songs = await makeTempDir('stembot-preview-songs-');
    tools = await locateFfmpeg({ searchPath: process.env.PATH });
    const halves = await makeHalves(tools.ffmpeg, path.join(songs.dir, 'halves.mp3'));
    for (const id of [VIDEOS.discord, VIDEOS.slack, VIDEOS.noPreview, VIDEOS.failing]) {
      files[id] = path.join(songs.dir, `${id}.mp3`);
      await copyFile(halves, files[id]);
    }
    // 12 s, under twice PREVIEW_SECONDS: too short for a preview.
    files[VIDEOS.short] = await makeSong(tools.ffmpeg, path.join(songs.dir, 'short.mp3'), 12);
    // Seven minutes: the whole song is still running when the cancel comes after its preview (and a cancel costs no more for it).
    if (cases.includes('edges')) files[VIDEOS.long] = await repeatSong(tools.ffmpeg, halves, 18, path.join(songs.dir, 'long.mp3'));
    disk = await diskThatFills(songs.dir, tools.ffmpeg);

    const guild = defaultGuild({ id: '1100000000000000050', username: 'stembot', bot: true });
    discord = await FakeDiscord.start({ clock: new TestClock(), guilds: [{ ...guild, members: [...guild.members, { user: { id: BOB, username: 'bob' }, roles: [] }] }] });
    slack = await FakeSlack.start({ world: defaultWorld() });
    harness = await startHarness({
      backend: deployment,
      env: { PREVIEW_SECONDS: String(PREVIEW_SECONDS), FFMPEG_PATH: disk.path, QUOTA_CONCURRENT_JOBS: '50', QUOTA_DAILY_MINUTES: '300', QUOTA_MAX_TRACK_MINUTES: '10' },
      fetchers: (ffprobe) => {
        source = new LocalVideoSource(ffprobe, files);
        return { youtube: source, attachment: source };
      },
    });
    const settings = { token: discord.token, applicationId: discord.applicationId, apiUrl: `${discord.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    roles = [
      await startDiscordRole({ core: harness.core, settings, logger: harness.logger, knownModels: async () => ['htdemucs'] }),
      await startSlackRole({
        core: harness.core,
        settings: { botToken: slack.botToken(ACME), appToken: slack.appToken, signingSecret: undefined, port: 0, apiUrl: slack.apiUrl, oauth: undefined },
        logger: harness.logger,
        knownModels: async () => ['htdemucs'],
      }),
    ];
    await slack.waitForSocket();
  });

  afterAll(async () => {
    for (const role of roles ?? []) await role.stop();
    await harness?.stop();
    await discord?.close();
    await slack?.close();
    await songs?.remove();
  });

  /** Length by ffprobe, and loudness at both ends, of an mp3 a user got. */
  async function hear(name: string, bytes: Buffer): Promise<Heard> {
    const file = path.join(songs.dir, `heard-${Date.now()}-${name}`);
    await writeFile(file, bytes);
    const seconds = (await probeAudio(tools.ffprobe, file)).durationSeconds ?? 0;
    const raw = await rawSamples(tools.ffmpeg, file, 'f32le');
    const samples = new Float32Array(Uint8Array.from(raw).buffer);
    const window = 5 * SAMPLE_RATE * 2;
    return { seconds, head: rms(samples.subarray(0, window)), tail: rms(samples.subarray(samples.length - window)) };
  }

  function expectPreviewLength(heard: Heard[]): void {
    expect(heard).toHaveLength(4);
    for (const { seconds } of heard) expect(Math.abs(seconds - PREVIEW_SECONDS)).toBeLessThan(0.5);
  }

  const ledgerOf = async (requestId: string) => (await harness.runtime.orm.em.fork().find(UsageEntry, { requestId }, { orderBy: { kind: 'asc' } })).map((row) => [row.kind, row.audioSeconds]);
  const timesOpened = (id: string) => source.opened.filter((file) => file === files[id]).length;

  const separate = (options: Record<string, string | boolean>) => discord.dispatchInteraction({ type: 'command', name: 'separate', options, userId: BOB, channelId: GENERAL });
  /** The preview's attachments, taken from the reply at the moment it carries them. */
  const previewIn = (handle: FakeInteraction): Promise<StoredAttachment[]> =>
    handle.waitFor((i) => Boolean(i.original?.attachments.some((a) => isPreview(a.filename)))).then((i) => (i.original as StoredMessage).attachments.filter((a) => isPreview(a.filename)));
  const finalReply = (handle: FakeInteraction): Promise<StoredMessage> =>
    handle.waitFor((i) => Boolean(i.original && /is separated|could not be separated|Cancelled by/.test(i.original.content))).then((i) => i.original as StoredMessage);
  const requestIdIn = (message: StoredMessage) => JSON.stringify(message.revisions.map((r) => r.components)).match(/cancel:([0-9a-f-]{36})/)?.[1] as string;
  const revisionWith = (message: StoredMessage, name: string) => message.revisions.findIndex((r) => r.attachments.includes(name));

  describe(`previews on ${deployment}`, () => {
    it.runIf(cases.includes('discord'))('Discord: a link with t= gets that excerpt’s stems in its reply first, PREVIEW_SECONDS mp3s, then the whole song’s, for the quota of one song and one download', async () => {
      const handle = separate({ link: `${LINK(VIDEOS.discord)}?t=13`, stems: 'karaoke' });
      const preview = await previewIn(handle);
      const reply = await finalReply(handle);
      expect(preview.map((a) => a.filename).sort()).toEqual(PREVIEW_STEMS);
      const heard = await Promise.all(preview.map((a) => hear(a.filename, a.bytes)));
      expectPreviewLength(heard);
      // 0:13–0:23 lies in the loud part from end to end.
      for (const { head, tail } of heard) expect(Math.abs(Math.log(head / tail))).toBeLessThan(Math.log(1.4));

      expect(reply.content).toMatch(/is separated/);
      // The preview holds the separation's own stems; the result, the pair the request asked for, in their place.
      expect(reply.attachments.map((a) => a.filename).sort()).toEqual(KARAOKE);
      expect(revisionWith(reply, 'preview-vocals.mp3')).toBeGreaterThan(-1);
      expect(revisionWith(reply, 'preview-vocals.mp3')).toBeLessThan(revisionWith(reply, 'vocals.mp3'));
      expect(reply.revisions.some((r) => r.content.includes('Preview (0:13–0:23) posted; separating the whole song…'))).toBe(true);
      // The whole song's stems are the whole song.
      expect((await hear('vocals.mp3', reply.attachments.find((a) => a.filename === 'vocals.mp3')!.bytes)).seconds).toBeGreaterThan(SONG_SECONDS - 1);

      const ledger = await ledgerOf(requestIdIn(reply));
      expect(ledger.map(([kind]) => kind)).toEqual(['commit', 'reserve']);
      expect(ledger[0]![1]).toBe(ledger[1]![1]);
      expect(ledger[0]![1]).toBeLessThanOrEqual(SONG_SECONDS + 1);
      expect(timesOpened(VIDEOS.discord)).toBe(1);
    });

    it.runIf(cases.includes('slack'))('Slack: a link without t= gets the excerpt from a third of the way in, in the request’s thread before the whole song’s stems', async () => {
      await slack.deliver(slack.payloads.slashCommand({ command: '/separate', text: `${LINK(VIDEOS.slack)} karaoke`, user: SLACK_BOB, channel: SLACK_GENERAL })).waitForAck();
      const bot = slack.team(ACME).bot.userId;
      const { parent, uploads } = await slack.waitFor(() => {
        const found = slack.channelMessages(SLACK_GENERAL).find((m) => m.user === bot && m.revisions[0]?.text.startsWith(`Local ${VIDEOS.slack}`));
        const withFiles = found ? slack.threadReplies(SLACK_GENERAL, found.ts).filter((m) => m.fileIds.length > 0) : [];
        const named = withFiles.map((m) => ({ message: m, names: m.fileIds.map((id) => slack.file(id)?.name ?? '').sort() }));
        return found && named.some((upload) => upload.names.includes('vocals.mp3')) ? { parent: found, uploads: named } : undefined;
      });
      // The preview holds the separation's own stems; the result, the pair the request asked for.
      expect(uploads.map((upload) => upload.names)).toEqual([PREVIEW_STEMS, KARAOKE]);
      expect(uploads[0]!.message.text).toContain('Preview of *Local halvesslack* (0:08–0:18)');
      expect(parent.revisions.some((r) => r.text.includes('Preview (0:08–0:18) posted; separating the whole song…'))).toBe(true);
      expect(parent.text).toMatch(/is separated/);

      const heard = await Promise.all(uploads[0]!.message.fileIds.map((id) => slack.file(id)!).map((file) => hear(file.name, file.bytes as Buffer)));
      expectPreviewLength(heard);
      // 0:08–0:18 starts in the quiet part and ends in the loud one.
      for (const { head, tail } of heard) expect(tail / head).toBeGreaterThan(5);
      expect(timesOpened(VIDEOS.slack)).toBe(1);
    });

    it.runIf(cases.includes('edges'))('Discord preview:False, and a song under twice PREVIEW_SECONDS: no preview, the stems as ever', async () => {
      const asks: Record<string, string | boolean>[] = [{ link: LINK(VIDEOS.noPreview), stems: 'karaoke', preview: false }, { link: LINK(VIDEOS.short), stems: 'karaoke' }];
      for (const asked of asks) {
        const reply = await finalReply(separate(asked));
        expect(reply.content).toMatch(/is separated/);
        expect(reply.attachments.map((a) => a.filename).sort()).toEqual(KARAOKE);
        expect(reply.revisions.flatMap((r) => r.attachments).filter(isPreview)).toEqual([]);
        expect(reply.revisions.some((r) => r.content.includes('Preview'))).toBe(false);
      }
    });

    it.runIf(cases.includes('edges'))('the song failing after its preview was posted: the preview stays, the usual failure follows, nothing is charged', async () => {
      await disk.fill();
      try {
        const handle = separate({ link: LINK(VIDEOS.failing), stems: 'karaoke' });
        await previewIn(handle);
        const reply = await finalReply(handle);
        expect(reply.content).toBe(`**Local ${VIDEOS.failing}** could not be separated: The server could not store the stems right now; try again later.`);
        expect(reply.attachments.map((a) => a.filename).sort()).toEqual(PREVIEW_STEMS);
        expect(await ledgerOf(requestIdIn(reply))).toEqual([
          ['refund', expect.any(Number)],
          ['reserve', expect.any(Number)],
        ]);
      } finally {
        await disk.free();
      }
    });

    it.runIf(cases.includes('edges'))('cancelled while the whole song runs after its preview: cancelled, refunded, and no stems come after', async () => {
      const handle = separate({ link: LINK(VIDEOS.long), stems: 'karaoke' });
      await previewIn(handle);
      const progress = handle.original as StoredMessage;
      const requestId = requestIdIn(progress);
      const click = discord.dispatchInteraction({ type: 'component', customId: `cancel:${requestId}`, message: progress, userId: BOB });
      await click.waitFor((i) => i.callbacks.length > 0);
      expect(discord.message(progress.id)?.content).toBe(`Cancelled by <@${BOB}>. Nothing was charged.`);
      expect(await ledgerOf(requestId)).toEqual([
        ['refund', expect.any(Number)],
        ['reserve', expect.any(Number)],
      ]);
      // The worker lets go of the song; nothing is posted over the cancel.
      const em = harness.runtime.orm.em.fork();
      await expect.poll(async () => (await harness.core.jobCounts()).active ?? 0, { timeout: 30_000 }).toBe(0);
      expect((await em.findOneOrFail(Separation, { sourceKey: `youtube:${VIDEOS.long}` })).state).toBe('cancelled');
      expect(discord.message(progress.id)?.content).toBe(`Cancelled by <@${BOB}>. Nothing was charged.`);
      expect(discord.message(progress.id)?.revisions.flatMap((r) => r.attachments)).not.toContain('vocals.mp3');
    });
  });
}
