import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { exitedCleanly, runTool, ToolError } from './ffmpeg.js';

/** ffprobe prints numbers as strings ("44100", "12.345000") and omits what it does not know. */
const numeric = z.union([z.string(), z.number()]).transform(Number).pipe(z.number().finite());

const ffprobeOutputSchema = z.object({
  streams: z
    .array(
      z.object({
        codec_type: z.string(),
        codec_name: z.string().optional(),
        sample_rate: numeric.optional(),
        channels: z.number().int().optional(),
        duration: numeric.optional(),
      }),
    )
    .default([]),
  format: z.object({ format_name: z.string(), duration: numeric.optional() }).optional(),
});

export const audioProbeSchema = z.object({
  /** Seconds; null when the container does not say (a raw stream without an index). */
  durationSeconds: z.number().nonnegative().nullable(),
  codec: z.string(),
  channels: z.number().int().positive(),
  sampleRate: z.number().int().positive(),
  container: z.string(),
});
export type AudioProbe = z.infer<typeof audioProbeSchema>;

/** Reads the first audio stream's facts with ffprobe, to size progress and refuse silly inputs early. */
export async function probeAudio(ffprobe: string, file: string, options: { signal?: AbortSignal } = {}): Promise<AudioProbe> {
  const run = runTool(
    ffprobe,
    ['-hide_banner', '-loglevel', 'error', '-print_format', 'json', '-show_format', '-show_streams', file],
    { stdin: 'ignore', signal: options.signal },
  );
  const chunks: Buffer[] = [];
  for await (const chunk of run.stdout as AsyncIterable<Buffer>) chunks.push(chunk);
  const exit = await run.exit;
  options.signal?.throwIfAborted();
  if (exit.spawnError) throw new ToolError(`could not start ffprobe: ${exit.spawnError.message}`, exit);
  if (!exitedCleanly(exit)) {
    throw new UserError('audio_undecodable', 'That file could not be read as audio; it may be damaged or in an unsupported format.');
  }
  const parsed = ffprobeOutputSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
  if (!parsed.success) throw new ToolError(`unexpected ffprobe output: ${parsed.error.message}`, exit);
  const stream = parsed.data.streams.find((s) => s.codec_type === 'audio');
  if (!stream) throw new UserError('audio_not_audio', 'That file has no audio track. Send a song as mp3, m4a, opus, ogg, wav or flac.');
  const duration = stream.duration ?? parsed.data.format?.duration;
  return audioProbeSchema.parse({
    durationSeconds: duration ?? null,
    codec: stream.codec_name ?? 'unknown',
    channels: stream.channels,
    sampleRate: stream.sample_rate,
    container: parsed.data.format?.format_name ?? 'unknown',
  });
}
