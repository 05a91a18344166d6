import { createReadStream } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAudio } from '../../../worker/audio/decode.js';
import { locateFfmpeg, type FfmpegTools } from '../../../worker/audio/ffmpeg.js';
import { measureAudioSeconds, probeAudio } from '../../../worker/audio/probe.js';
import { hlsPlaylist } from '../../support/hostile-files.js';
import { makeSong } from '../../support/stembot-harness.js';
import { makeTempDir } from '../../support/services.js';
import { rejectsWithUserError } from '../../support/user-error.js';

let tools: FfmpegTools;
let temp: { dir: string; remove(): Promise<void> };
/** Stands for an internal service: the playlists below name it, and nothing may ask it anything. */
let internal: Server;
const internalHits: string[] = [];
let playlist: string;
/** A playlist whose segment is a song on the server's own disk: read, it would hand us another file's audio. */
let localPlaylist: string;

beforeAll(async () => {
  tools = await locateFfmpeg({ searchPath: process.env.PATH });
  temp = await makeTempDir('stembot-input-guard-');
  internal = createServer((req, res) => {
    internalHits.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'video/mp2t' }).end(Buffer.alloc(188 * 10));
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  playlist = path.join(temp.dir, 'list.m3u8');
  await writeFile(playlist, hlsPlaylist(`http://127.0.0.1:${(internal.address() as AddressInfo).port}/seg.ts`));
  localPlaylist = path.join(temp.dir, 'local.m3u8');
  await writeFile(localPlaylist, hlsPlaylist(await makeSong(tools.ffmpeg, path.join(temp.dir, 'someone-elses.mp3'), 3)));
});
afterAll(async () => {
  internal.close();
  await temp.remove();
});

describe('ffmpeg and ffprobe read only the bytes they are handed', () => {
  it('ffprobe refuses an HLS playlist file without fetching its segment', async () => {
    await rejectsWithUserError(probeAudio(tools.ffprobe, playlist));
    await rejectsWithUserError(measureAudioSeconds(tools.ffmpeg, playlist));
    expect(internalHits).toEqual([]);
  });

  it('the decoder refuses an HLS playlist streamed to it without fetching its segment', async () => {
    const blocks = decodeAudio(createReadStream(playlist), { ffmpeg: tools.ffmpeg });
    const error = await rejectsWithUserError((async () => {
      for await (const _block of blocks) {
        // draining
      }
    })());
    expect(error.code).toMatch(/^audio_(container|undecodable)$/);
    expect(internalHits).toEqual([]);
  });

  it('does not read a file on the server that a playlist names, neither to probe nor to decode', async () => {
    await rejectsWithUserError(probeAudio(tools.ffprobe, localPlaylist));
    await rejectsWithUserError(measureAudioSeconds(tools.ffmpeg, localPlaylist));
    await rejectsWithUserError((async () => {
      for await (const _block of decodeAudio(localPlaylist, { ffmpeg: tools.ffmpeg })) {
        // draining
      }
    })());
  });

  it('gives up on a probe that hangs, with a message for the user', async () => {
    const hanging = path.join(temp.dir, 'hanging-ffprobe');
    await writeFile(hanging, '#!/bin/sh\nexec sleep 30\n');
    await chmod(hanging, 0o755);
    const error = await rejectsWithUserError(probeAudio(hanging, playlist, { timeoutMs: 300 }));
    expect(error.code).toBe('audio_probe_timeout');
  });
});
