import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { locateFfmpeg } from '../audio/ffmpeg.js';
import { OUTPUT_EXTENSIONS, type EncodeFormatInput } from '../audio/encode.js';
import { probeAudio } from '../audio/probe.js';
import { clipModeSchema } from '../engine/stem-output.js';
import { loadModel } from '../engine/model.js';
import { deviceSchema, type Device } from '../engine/session.js';
import { resolveModel } from '../engine/resolve-model.js';
import { claimProcessTempDir } from '../process-temp-dir.js';
import { PREVIEW_FORMAT, separateTrack, type SeparatedTrack } from '../separate-track.js';

export interface SeparateCommandDeps {
  modelsDir: string;
  ffmpegPath?: string;
  device: Device;
  /** onnxruntime intra-op threads; 0 means one per physical core. */
  threads: number;
  /** TEMP_DIR: this run takes a folder of its own under it. */
  tempDir: string;
  /** Bytes every disk keeps free (DISK_MIN_FREE_MB). */
  diskMinFreeBytes: number;
  logger: Logger;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

interface TrackSummary {
  track: string;
  stems?: Record<string, string>;
  durationSeconds?: number;
  timings?: SeparatedTrack['timings'];
  preview?: { stems: Record<string, string>; startSeconds: number; durationSeconds: number } | undefined;
  /** Event-loop delay while this track was separated (perf_hooks' monitorEventLoopDelay). */
  eventLoopDelayMs?: { p99: number; max: number };
  error?: { code: string; message: string };
}

/** demucs' `--filename` default: one folder per track, one file per stem. */
const DEFAULT_FILENAME = '{track}/{stem}.{ext}';

const optionsSchema = z
  .object({
    name: z.string().optional(),
    modelFile: z.string().optional(),
    out: z.string().default('separated'),
    filename: z.string().default(DEFAULT_FILENAME),
    twoStems: z.string().optional(),
    mp3: z.boolean().default(false),
    mp3Bitrate: z.coerce.number({ error: '--mp3-bitrate expects kbps, like 320' }).int().min(32).max(320).default(320),
    flac: z.boolean().default(false),
    float32: z.boolean().default(false),
    int24: z.boolean().default(false),
    shifts: z.coerce.number({ error: '--shifts expects a whole number' }).int().min(0).max(20).default(1),
    overlap: z.coerce.number({ error: '--overlap expects a fraction like 0.25' }).min(0).lt(1).default(0.25),
    clipMode: clipModeSchema.default('rescale'),
    device: deviceSchema.optional(),
    jobs: z.coerce.number({ error: '-j expects a whole number' }).int().min(0).optional(),
    seed: z.coerce.number().int().optional(),
    batchSize: z.coerce.number().int().min(1).max(64).default(1),
    preview: z.coerce.number({ error: '--preview expects seconds, like 30' }).positive().max(600).optional(),
    previewStart: z.coerce.number({ error: '--preview-start expects seconds' }).min(0).optional(),
    json: z.boolean().default(false),
  })
  .refine((o) => !(o.mp3 && o.flac), { error: 'choose one of --mp3 and --flac' })
  .refine((o) => !(o.float32 && o.int24), { error: 'choose one of --float32 and --int24' });
type SeparateOptions = z.output<typeof optionsSchema>;

/** demucs' choice of output: wav by default (16-bit; --int24 / --float32), or --mp3 / --flac. */
function outputFormat(options: SeparateOptions): EncodeFormatInput {
  if (options.mp3) return { format: 'mp3', bitrateKbps: options.mp3Bitrate };
  if (options.flac) return { format: 'flac', bitDepth: options.int24 ? 24 : 16 };
  return { format: 'wav', bitDepth: options.float32 ? 32 : options.int24 ? 24 : 16 };
}

function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => values[key] ?? whole);
}

/** True when `file` lies strictly below `dir` (both absolute). */
function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative);
}

/**
 * Where `--filename` puts one stem: under OUT/MODEL and nowhere else. The template comes from the
 * command line and its values from file names, so a `..` in either must not carry a stem out.
 */
function stemFile(modelDir: string, template: string, values: Record<string, string>): string {
  const file = path.join(modelDir, fillTemplate(template, values));
  if (!isInside(modelDir, file)) {
    throw new UserError('filename_outside_output', `--filename "${template}" puts the ${values.stem} stem at ${file}, outside the output folder ${modelDir}: use a path inside it, without "..".`);
  }
  return file;
}

/**
 * `stembot separate`, shaped like the demucs command line so demucs users feel at home:
 * `stembot separate [-n NAME | --model-file PATH] [-o OUT] ... TRACK...` writes
 * `{OUT}/{model}/{track}/{stem}.{ext}`. `-j` sets onnxruntime's threads (demucs' `-j` is its
 * worker count for the same purpose: use more cores).
 */
export function registerSeparateCommand(program: Command, getDeps: () => SeparateCommandDeps): void {
  program
    .command('separate')
    .description('separate audio files into stems, like the demucs command line')
    .argument('<tracks...>', 'audio files (any format ffmpeg reads)')
    .option('-n, --name <name>', 'model name (default htdemucs)')
    .option('--model-file <path>', 'an ONNX model file instead of a named model')
    .option('-o, --out <dir>', 'output folder', 'separated')
    .option('--filename <template>', 'output file name under OUT/MODEL, with {track}, {trackext}, {stem}, {ext}', DEFAULT_FILENAME)
    .option('--two-stems <stem>', 'only STEM and no_STEM (the sum of the others)')
    .option('--mp3', 'write mp3 (320 kbps unless --mp3-bitrate)')
    .option('--mp3-bitrate <kbps>', 'mp3 bitrate', '320')
    .option('--flac', 'write flac')
    .option('--float32', 'write 32-bit float wav')
    .option('--int24', 'write 24-bit wav or flac')
    .option('--shifts <n>', 'random-shift passes averaged (0 is deterministic)', '1')
    .option('--overlap <fraction>', 'overlap between chunks', '0.25')
    .addOption(new Option('--clip-mode <mode>', 'keep stems from clipping').choices(['rescale', 'clamp', 'none']).default('rescale'))
    .addOption(new Option('-d, --device <device>', 'cpu, cuda or auto (default ONNX_DEVICE)').choices(['cpu', 'cuda', 'auto']))
    .option('-j, --jobs <n>', 'threads for onnxruntime (default ONNX_THREADS)')
    .option('--seed <n>', 'seed for the shift offsets, to reproduce a run')
    .option('--batch-size <n>', 'chunks per model call when the model allows batching', '1')
    .option('--preview <seconds>', 'first separate an excerpt this long into preview/ (128 kbps mp3), as the bot posts one')
    .option('--preview-start <seconds>', 'where the excerpt starts (default a third of the way in)')
    .option('--json', 'print a machine-readable summary on stdout')
    .action(async (tracks: string[], rawOptions: Record<string, unknown>) => {
      const parsed = optionsSchema.safeParse(rawOptions);
      if (!parsed.success) throw new UserError('bad_option', parsed.error.issues.map((issue) => issue.message).join('; '));
      const failures = await runSeparate(tracks, parsed.data, getDeps());
      if (failures > 0) process.exitCode = 1;
    });
}

async function runSeparate(tracks: string[], options: SeparateOptions, deps: SeparateCommandDeps): Promise<number> {
  const stdout = deps.stdout ?? process.stdout;
  const stderr = deps.stderr ?? process.stderr;
  const resolved = await resolveModel(deps.modelsDir, { name: options.name, modelFile: options.modelFile });
  const format = outputFormat(options);
  const modelDir = path.resolve(options.out, resolved.name);
  if (!isInside(path.resolve(options.out), modelDir)) {
    throw new UserError('model_name_invalid', `The model name "${resolved.name}" cannot be a folder under ${path.resolve(options.out)}: rename the model file.`);
  }
  // A template that leaves the folder is refused before any work; per-track values are checked again as each track is written.
  for (const stem of resolved.sources) stemFile(modelDir, options.filename, { track: 'track', trackext: 'wav', stem, ext: OUTPUT_EXTENSIONS[format.format] });
  const { ffmpeg, ffprobe } = await locateFfmpeg({ ffmpegPath: deps.ffmpegPath, searchPath: process.env.PATH });
  const threads = options.jobs ?? deps.threads;
  const model = await loadModel(resolved.path, { device: options.device ?? deps.device, intraOpThreads: threads > 0 ? threads : undefined }, deps.logger, {
    sources: resolved.sources,
    sampleRate: resolved.sampleRate,
    segment: resolved.segment,
  });
  await mkdir(modelDir, { recursive: true }).catch((cause: unknown) => {
    throw new UserError('output_unwritable', `Cannot create the output folder ${modelDir}: ${(cause as NodeJS.ErrnoException).code ?? 'error'}.`, { cause });
  });

  const summary: TrackSummary[] = [];
  const temp = await claimProcessTempDir(deps.tempDir, deps.logger, { diskReserveBytes: deps.diskMinFreeBytes });
  // How long the event loop waited while separating: what a bot sharing this process would feel.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  try {
    for (const track of tracks) {
      const trackName = path.parse(track).name;
      const values = { track: trackName, trackext: path.extname(track).slice(1), ext: OUTPUT_EXTENSIONS[format.format] };
      const bar = new cliProgress.SingleBar({ stream: stderr, format: `${trackName} [{bar}] {percentage}% | ETA {eta_formatted}`, hideCursor: true }, cliProgress.Presets.shades_classic);
      bar.start(100, 0);
      let preview: TrackSummary['preview'];
      loopDelay.reset();
      loopDelay.enable();
      try {
        const result = await separateTrack({
          input: track,
          model,
          ffmpeg,
          outputPath: (stem) => stemFile(modelDir, options.filename, { ...values, stem }),
          format,
          settings: { shifts: options.shifts, overlap: options.overlap, clip: options.clipMode, twoStems: options.twoStems, seed: options.seed, batchSize: options.batchSize },
          tempDir: temp.dir,
          spoolFiles: temp.spoolFiles,
          expectedSeconds: await claimedSeconds(ffprobe, track),
          diskReserveBytes: deps.diskMinFreeBytes,
          nameFoldersInErrors: true,
          onProgress: (progress) => {
            if (progress.stage === 'separate') bar.update(Math.round(progress.fraction * 100));
          },
          logger: deps.logger,
          preview: options.preview === undefined ? undefined : {
            seconds: options.preview,
            startSeconds: options.previewStart,
            format: PREVIEW_FORMAT,
            outputPath: (stem) => path.join(path.dirname(stemFile(modelDir, options.filename, { ...values, stem })), 'preview', `${stem}.mp3`),
            onReady: (ready) => {
              preview = { stems: Object.fromEntries(ready.stems.map((s) => [s.name, s.path])), startSeconds: ready.startSeconds, durationSeconds: ready.durationSeconds };
            },
          },
        });
        loopDelay.disable();
        bar.update(100);
        bar.stop();
        summary.push({
          track,
          stems: Object.fromEntries(result.stems.map((s) => [s.name, s.path])),
          durationSeconds: result.durationSeconds,
          timings: result.timings,
          preview,
          eventLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        });
        if (!options.json) stdout.write(`${track}: ${result.stems.map((s) => path.relative(process.cwd(), s.path)).join(', ')}\n`);
      } catch (error) {
        loopDelay.disable();
        bar.stop();
        if (!(error instanceof UserError)) throw error;
        // Like demucs, one bad track does not stop the others; the exit code still says something failed.
        summary.push({ track, error: { code: error.code, message: error.message } });
        stderr.write(`stembot: ${track}: ${error.message}\n`);
      }
    }
  } finally {
    await temp.release();
  }
  if (options.json) stdout.write(`${JSON.stringify({ model: resolved.name, provider: model.provider, outputDir: modelDir, tracks: summary, peakRssBytes: process.resourceUsage().maxRSS * 1024 }, null, 2)}\n`);
  return summary.filter((entry) => entry.error).length;
}

/** The length the file states, for the disk check; a file ffprobe cannot read is left to the decoder to refuse, in its words. */
async function claimedSeconds(ffprobe: string, track: string): Promise<number | undefined> {
  const probe = await probeAudio(ffprobe, track).catch(() => undefined);
  return probe?.durationSeconds ?? undefined;
}
