import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { makeSong } from './stembot-harness.js';

const exec = promisify(execFile);

/**
 * An mp3 whose header says `claimedSeconds` but which holds `claimedSeconds + extraSeconds` of
 * frames: a short song with its Xing/Info header, then a longer one's frames with no header of
 * their own, and the header's byte count patched to cover the whole file, so that ffprobe trusts
 * its frame count and reports the short length.
 */
export async function makeLyingMp3(ffmpeg: string, file: string, claimedSeconds: number, extraSeconds: number): Promise<Buffer> {
  const head = await readFile(await makeSong(ffmpeg, `${file}.head.mp3`, claimedSeconds));
  await exec(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=f=330:d=${extraSeconds}`, '-ac', '2', '-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k', '-write_xing', '0', '-id3v2_version', '0', `${file}.tail.mp3`]);
  const bytes = Buffer.concat([head, await readFile(`${file}.tail.mp3`)]);
  const tag = Math.max(bytes.indexOf('Info'), bytes.indexOf('Xing'));
  if (tag < 0) throw new Error('the encoder wrote no Xing/Info header to patch');
  // Flags (4 bytes), frame count (4), then the byte count (4), big-endian.
  bytes.writeUInt32BE(bytes.length, tag + 12);
  await writeFile(file, bytes);
  return bytes;
}

/** A text HLS playlist, as a hostile "song.mp3" would hold, whose only segment is `segmentUrl`. */
export function hlsPlaylist(segmentUrl: string): Buffer {
  return Buffer.from(`#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n${segmentUrl}\n#EXT-X-ENDLIST\n`);
}
