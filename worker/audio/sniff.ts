import { open } from 'node:fs/promises';
import { fileTypeFromBuffer } from 'file-type';
import { UserError } from '../../core/errors.js';

/**
 * What file-type calls the containers of `AUDIO_DEMUXERS`. Video containers are in: a music video
 * has an audio track, and one without is refused by the probe ("no audio track").
 */
const AUDIO_CONTAINERS = new Set(['mp3', 'aac', 'flac', 'ogg', 'oga', 'opus', 'wav', 'aif', 'm4a', 'm4b', 'mp4', 'mov', 'webm', 'mka', 'mkv']);

/** file-type reads at most this much of a file's start. */
const SNIFF_BYTES = 4100;

/**
 * Refuses a file whose first bytes are not an audio container we take, before any media tool reads
 * it: a text playlist named song.mp3 is text, whatever its name says.
 */
export async function assertAudioContainer(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    const type = await fileTypeFromBuffer(head.subarray(0, bytesRead));
    if (type && AUDIO_CONTAINERS.has(type.ext)) return;
    throw new UserError('audio_container', `That file is ${type ? `a .${type.ext} file` : 'not an audio file'}; send a song as mp3, m4a, opus, ogg, wav or flac.`);
  } finally {
    await handle.close();
  }
}
