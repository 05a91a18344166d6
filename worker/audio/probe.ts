import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { exitedCleanly, inputGuardArgs, refusedByInputGuard, runTool, ToolError, type ToolExit } from './ffmpeg.js';

/** A local file's probe or length count takes well under a second; one that takes this long is made to hang. */
export const PROBE_TIMEOUT_MS = 20_000;

export interface ProbeOptions {
  signal?: AbortSignal | undefined;
  /** Default `PROBE_TIMEOUT_MS`. */
  timeoutMs?: number;
}

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

/**
 * Reads the first audio stream's facts of a local file with ffprobe, to size progress and refuse
 * silly inputs early. The duration is what the file's header says: see `measureAudioSeconds`.
 */
export async function probeAudio(ffprobe: string, file: string, options: ProbeOptions = {}): Promise<AudioProbe> {
  const { output, exit } = await runBounded(ffprobe, ['-hide_banner', '-loglevel', 'error', ...inputGuardArgs('file'), '-print_format', 'json', '-show_format', '-show_streams', file], options);
  if (exit.spawnError) throw new ToolError(`could not start ffprobe: ${exit.spawnError.message}`, exit);
  if (!exitedCleanly(exit)) {
    throw refusedByInputGuard(exit) ?? new UserError('audio_undecodable', 'That file could not be read as audio; it may be damaged or in an unsupported format.');
  }
  const parsed = ffprobeOutputSchema.safeParse(JSON.parse(output));
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

/**
 * The length of a local file's first audio stream as its packets add up, read through once without
 * decoding (a few milliseconds a minute). A header can claim anything: an mp3 whose Xing header
 * counts 10 s of frames can hold 30 minutes of them, and ffprobe reports the header's 10 s.
 */
export async function measureAudioSeconds(ffmpeg: string, file: string, options: ProbeOptions = {}): Promise<number> {
  const { output, exit } = await runBounded(
    ffmpeg,
    ['-hide_banner', '-nostdin', '-loglevel', 'error', ...inputGuardArgs('file'), '-i', file, '-map', '0:a:0', '-c', 'copy', '-f', 'null', '-', '-progress', 'pipe:1', '-nostats'],
    options,
  );
  if (exit.spawnError) throw new ToolError(`could not start ffmpeg: ${exit.spawnError.message}`, exit);
  if (!exitedCleanly(exit)) throw refusedByInputGuard(exit) ?? new UserError('audio_undecodable', 'That file could not be read as audio; it may be damaged or in an unsupported format.');
  // `-progress` prints key=value blocks; the last out_time_us is where the stream ended.
  const times = [...output.matchAll(/^out_time_us=(\d+)$/gm)].map((match) => Number(match[1]));
  return (times.at(-1) ?? 0) / 1_000_000;
}

/** Runs a tool to the end, its stdout collected, killed once the timeout or the caller's signal fires. */
async function runBounded(binary: string, args: string[], options: ProbeOptions): Promise<{ output: string; exit: ToolExit }> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? PROBE_TIMEOUT_MS);
  const run = runTool(binary, args, { stdin: 'ignore', signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout });
  const chunks: Buffer[] = [];
  for await (const chunk of run.stdout as AsyncIterable<Buffer>) chunks.push(chunk);
  const exit = await run.exit;
  options.signal?.throwIfAborted();
  if (timeout.aborted) throw new UserError('audio_probe_timeout', 'That file took too long to read; it may be damaged. Send a song as mp3, m4a, opus, ogg, wav or flac.');
  return { output: Buffer.concat(chunks).toString('utf8'), exit };
}
