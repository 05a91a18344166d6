import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The file's bytes as a slow upload delivers them: whatever reads it (ffmpeg decoding) is still
 * running for as long as it lasts. With `breakAfter`, the upload fails with `error` once that
 * many bytes are through.
 */
export function trickle(file: string, delayMs: number, breakAfter?: { bytes: number; error: Error }): Readable {
  return Readable.from(
    (async function* () {
      let sent = 0;
      for await (const chunk of createReadStream(file, { highWaterMark: 16 * 1024 })) {
        if (breakAfter && sent > breakAfter.bytes) throw breakAfter.error;
        await sleep(delayMs);
        sent += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    })(),
  );
}
