import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDiscordCommands } from '../bots/discord/register-commands.js';
import { locateFfmpeg } from '../worker/audio/ffmpeg.js';
import { FakeDiscord, type StoredMessage } from './support/fake-discord/index.js';
import { makeTempDir } from './support/services.js';
import { DEPLOYMENTS, makeSong } from './support/stembot-harness.js';
import { prepareSite, startStembot, type StembotProcess, type StembotSite } from './support/stembot-process.js';

const GUILD = '1100000000000000001';
const GENERAL = '1100000000000000010';
const ALICE = '1100000000000000100';

let songBytes: Buffer;
let songs: { dir: string; remove(): Promise<void> };

beforeAll(async () => {
  songs = await makeTempDir('stembot-cli-songs-');
  const { ffmpeg } = await locateFfmpeg({ searchPath: process.env.PATH });
  songBytes = await readFile(await makeSong(ffmpeg, path.join(songs.dir, 'song.mp3'), 20));
});
afterAll(async () => songs?.remove());

/**
 * What an operator runs: `npx stembot start` (the compiled CLI) with the Discord settings and the
 * chosen deployment, everything else left to its defaults, against the fake Discord.
 */
describe.each(DEPLOYMENTS)('stembot start on the %s deployment, with Discord', (deployment) => {
  let fake: FakeDiscord;
  let site: StembotSite;
  let stembot: StembotProcess;

  beforeAll(async () => {
    fake = await FakeDiscord.start();
    site = await prepareSite(deployment);
    const settings = { token: fake.token, applicationId: fake.applicationId, apiUrl: `${fake.url}/api` };
    await registerDiscordCommands(settings, GUILD);
    stembot = await startStembot(site, { DISCORD_TOKEN: settings.token, DISCORD_APPLICATION_ID: settings.applicationId, DISCORD_API_URL: settings.apiUrl });
  });

  afterAll(async () => {
    const exit = await stembot?.stop();
    await fake?.close();
    await site?.remove();
    expect(exit, stembot?.stderr()).toEqual({ code: 0, signal: null });
  });

  it('turns an uploaded 20 s song into four stems in the channel', async () => {
    const upload = fake.registerAttachment('my song.mp3', songBytes, 'audio/mpeg');
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate', options: { file: upload }, userId: ALICE, channelId: GENERAL });
    const done = await handle.waitFor((i) => Boolean(i.original && (i.original.attachments.length > 0 || /could not be separated/.test(i.original.content))));
    const reply = done.original as StoredMessage;
    expect(reply.content, stembot.stdout()).not.toMatch(/could not be separated/);
    expect(reply.attachments.map((a) => a.filename).filter((name) => name !== 'waveforms.png').sort()).toEqual(['bass.mp3', 'drums.mp3', 'other.mp3', 'vocals.mp3']);
    expect(fake.violations).toEqual([]);
    const pickedUp = stembot.logs().find((line) => line.msg === 'job picked up');
    console.log(`${deployment}: /separate upload of a 20 s song -> stems in the channel in ${reply.revisions.at(-1)!.at - handle.dispatchedAt} ms${pickedUp ? `; enqueue -> pickup ${String(pickedUp.waitMs)} ms` : ''}`);
  });
});
