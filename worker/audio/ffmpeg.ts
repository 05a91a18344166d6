import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { UserError } from '../../core/errors.js';
import { isExecutableFile, searchPathFor } from '../find-executable.js';

/** Absolute paths of the two binaries every audio step needs. */
export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

export interface LocateFfmpegOptions {
  /** `FFMPEG_PATH`: the ffmpeg binary itself, or a folder holding ffmpeg and ffprobe. Wins over `searchPath`. */
  ffmpegPath?: string | undefined;
  /** A PATH-style folder list (the caller passes `process.env.PATH`); unset means "nothing to search". */
  searchPath?: string | undefined;
}

const INSTALL_HINT = 'install it (apt-get install ffmpeg) or set FFMPEG_PATH to the ffmpeg binary';

/** Finds ffmpeg and ffprobe; a missing binary is a `UserError('ffmpeg_missing')` the operator can act on. */
export async function locateFfmpeg(options: LocateFfmpegOptions): Promise<FfmpegTools> {
  if (options.ffmpegPath) return locateExplicit(options.ffmpegPath, options.searchPath);
  const ffmpeg = await searchPathFor('ffmpeg', options.searchPath);
  const ffprobe = await searchPathFor('ffprobe', options.searchPath);
  if (!ffmpeg || !ffprobe) {
    const missing = ffmpeg ? 'ffprobe' : 'ffmpeg';
    throw new UserError('ffmpeg_missing', `${missing} was not found on PATH: ${INSTALL_HINT}.`);
  }
  return { ffmpeg, ffprobe };
}

async function locateExplicit(ffmpegPath: string, searchPath: string | undefined): Promise<FfmpegTools> {
  const resolved = path.resolve(ffmpegPath);
  const isDir = await stat(resolved).then((s) => s.isDirectory(), () => false);
  const ffmpeg = isDir ? path.join(resolved, 'ffmpeg') : resolved;
  if (!(await isExecutableFile(ffmpeg))) {
    throw new UserError('ffmpeg_missing', `FFMPEG_PATH points at ${ffmpegPath}, which is not an executable ffmpeg: fix FFMPEG_PATH or ${INSTALL_HINT}.`);
  }
  // ffprobe ships next to ffmpeg in every distribution we know; PATH is only the fallback.
  const sibling = path.join(path.dirname(ffmpeg), path.basename(ffmpeg).replace(/ffmpeg/i, 'ffprobe'));
  const ffprobe = sibling !== ffmpeg && (await isExecutableFile(sibling)) ? sibling : await searchPathFor('ffprobe', searchPath);
  if (!ffprobe) {
    throw new UserError('ffmpeg_missing', `ffprobe was not found next to FFMPEG_PATH (${ffmpegPath}) nor on PATH: ${INSTALL_HINT}.`);
  }
  return { ffmpeg, ffprobe };
}

/**
 * The demuxers of the audio containers we take (ffmpeg matches a demuxer whose name is a list,
 * like `mov,mp4,m4a,...`, by any of its names). Everything else, the HLS and concat playlists
 * that make ffmpeg open further URLs and image or video-only formats included, is refused.
 */
export const AUDIO_DEMUXERS = ['mp3', 'aac', 'flac', 'ogg', 'wav', 'w64', 'aiff', 'caf', 'mov', 'matroska'] as const;

/**
 * Input options that keep ffmpeg and ffprobe on the bytes we hand them: one protocol (the local
 * file, or the pipe we feed) and the audio demuxers only, so no input can make them reach a URL.
 * They go before `-i`.
 */
export function inputGuardArgs(protocol: 'file' | 'pipe'): string[] {
  return ['-protocol_whitelist', protocol, '-format_whitelist', AUDIO_DEMUXERS.join(',')];
}

/** The user's refusal when the input guard turned the input's container away (ffmpeg says "Format not on whitelist"). */
export function refusedByInputGuard(exit: ToolExit): UserError | undefined {
  if (!/not on whitelist/i.test(exit.stderrTail.join('\n'))) return undefined;
  return new UserError('audio_container', 'That file is not in an audio format we take (a playlist, a picture or a video-only file, say). Send a song as mp3, m4a, opus, ogg, wav or flac.');
}

/** How an ffmpeg/ffprobe run ended. `stderrTail` is for logs only: users never see ffmpeg's words. */
export interface ToolExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
  stderrTail: string[];
}

export interface ToolRun {
  readonly stdin: Writable | null;
  readonly stdout: Readable;
  /** Resolves once the process is gone; never rejects (a spawn failure lands in `spawnError`). */
  readonly exit: Promise<ToolExit>;
  /** SIGKILL: a half-written output is removed by the caller, so there is nothing to flush. */
  kill(): void;
}

export interface RunToolOptions {
  /** `pipe` when the input is streamed into the tool. */
  stdin: 'pipe' | 'ignore';
  signal?: AbortSignal | undefined;
}

/** Enough context to tell a codec error from a missing file in the logs, small enough to log on every failure. */
const STDERR_TAIL_LINES = 20;

export function runTool(binary: string, args: readonly string[], options: RunToolOptions): ToolRun {
  const child = spawn(binary, args, { stdio: [options.stdin, 'pipe', 'pipe'] });
  const tail = captureTail(child);
  // A tool that exits early makes our pending stdin writes fail with EPIPE; the exit code tells the story.
  child.stdin?.on('error', () => undefined);
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const onAbort = (): void => kill();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) kill();
  const exit = new Promise<ToolExit>((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError, stderrTail: tail() }));
    child.once('close', (code, signal) => resolve({ code, signal, stderrTail: tail() }));
  }).finally(() => options.signal?.removeEventListener('abort', onAbort));
  return { stdin: child.stdin, stdout: child.stdout as Readable, exit, kill };
}

function captureTail(child: ChildProcess): () => string[] {
  const lines: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    const parts = (partial + text).split(/\r?\n/);
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((l) => l.trim() !== ''));
    if (lines.length > STDERR_TAIL_LINES) lines.splice(0, lines.length - STDERR_TAIL_LINES);
  });
  return () => (partial.trim() ? [...lines, partial] : [...lines]).slice(-STDERR_TAIL_LINES);
}

export function exitedCleanly(exit: ToolExit): boolean {
  return exit.spawnError === undefined && exit.code === 0;
}

/** An ffmpeg failure that is ours, not the user's: logged with its stderr tail, shown as "something broke". */
export class ToolError extends Error {
  override readonly name = 'ToolError';
  constructor(
    message: string,
    readonly exit: ToolExit,
  ) {
    super(message, { cause: exit.spawnError });
  }
}
