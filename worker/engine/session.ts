import type * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { physicalCores } from './cpu-cores.js';
import { createThreadedSession, type ModelSession } from './inference-thread.js';

export const deviceSchema = z.enum(['cpu', 'cuda', 'auto']);
/** `auto`: CUDA where onnxruntime has it, else CPU. */
export type Device = z.infer<typeof deviceSchema>;

export interface SessionSettings {
  device: Device;
  /** onnxruntime intra-op threads. Default: the machine's physical cores. */
  intraOpThreads?: number | undefined;
}

export interface OpenSession {
  session: ModelSession;
  provider: 'cpu' | 'cuda';
}

/** onnxruntime severity 3: errors and fatal only. */
const ORT_LOG_ERRORS_ONLY = 3;

// One session per model file and settings per process: loading htdemucs takes seconds and
// hundreds of MB, and a session serves concurrent runs.
const sessions = new Map<string, Promise<OpenSession>>();

/**
 * The options every session gets, chosen rather than left to onnxruntime's defaults:
 * - intra-op threads = physical cores: a Demucs graph is a chain of large convolutions and
 *   matmuls, and hyper-threads sharing an FPU only add contention;
 * - one inter-op thread and sequential execution: the graph has no parallel branches worth a
 *   second pool, and each chunk's run already uses every core;
 * - every graph optimisation, the CPU arena and memory patterns: the same shapes run for every
 *   chunk, so buffers planned on the first run are reused by the rest;
 * - no spinning: idle intra-op threads otherwise busy-wait after each operator and between runs,
 *   taking the cores the STFT workers and the encoders need while a track is separated
 *   (measured on 2 cores: see the note on issue 13).
 */
export function sessionOptions(provider: 'cpu' | 'cuda', settings: SessionSettings): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    // onnxruntime's own warnings go straight to stderr, bypassing our logs; keep only its errors.
    logSeverityLevel: ORT_LOG_ERRORS_ONLY,
    intraOpNumThreads: settings.intraOpThreads ?? physicalCores(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
    enableMemPattern: true,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** On the process' inference thread, so a running chunk never blocks the event loop (see inference-thread.ts). */
async function create(model: Uint8Array, provider: 'cpu' | 'cuda', settings: SessionSettings): Promise<ModelSession> {
  return createThreadedSession(model, sessionOptions(provider, settings));
}

async function load(model: Uint8Array, fileName: string, settings: SessionSettings, log: Logger): Promise<OpenSession> {
  const corrupt = (cause: unknown): UserError =>
    new UserError('model_corrupt', `The model file ${fileName} could not be loaded; it is damaged or not an ONNX model.`, { cause });
  if (settings.device === 'cpu') {
    return { session: await create(model, 'cpu', settings).catch((e: unknown) => Promise.reject(corrupt(e))), provider: 'cpu' };
  }
  try {
    return { session: await create(model, 'cuda', settings), provider: 'cuda' };
  } catch (cudaError) {
    // onnxruntime throws rather than falling back when CUDA is missing; a CPU load tells that
    // case apart from a damaged file.
    const session = await create(model, 'cpu', settings).catch((e: unknown) => Promise.reject(corrupt(e)));
    if (settings.device === 'cuda') {
      await session.release();
      throw new UserError('cuda_unavailable', 'CUDA was requested but onnxruntime could not use it here; use device cpu or auto.', { cause: cudaError });
    }
    log.info({ model: fileName, err: cudaError }, 'cuda unavailable, using cpu');
    return { session, provider: 'cpu' };
  }
}

async function open(model: Uint8Array, fileName: string, settings: SessionSettings, log: Logger): Promise<OpenSession> {
  const opened = await load(model, fileName, settings, log);
  const { intraOpNumThreads, interOpNumThreads, executionMode, graphOptimizationLevel, enableCpuMemArena, enableMemPattern, extra } = sessionOptions(opened.provider, settings);
  log.info({ model: fileName, provider: opened.provider, intraOpNumThreads, interOpNumThreads, executionMode, graphOptimizationLevel, enableCpuMemArena, enableMemPattern, extra }, 'onnx session opened');
  return opened;
}

/**
 * The process-wide session for a model; `model` is the file's bytes, read once by the caller.
 * A failed load is not cached, so a fixed file can be retried.
 */
export function getSession(key: string, model: () => Promise<Uint8Array>, fileName: string, settings: SessionSettings, log: Logger): Promise<OpenSession> {
  const cacheKey = `${key}|${settings.device}|${settings.intraOpThreads ?? ''}`;
  const cached = sessions.get(cacheKey);
  if (cached) {
    // A session whose inference thread died is opened again on a new one.
    return cached.then((opened) => {
      if (opened.session.usable) return opened;
      if (sessions.get(cacheKey) === cached) sessions.delete(cacheKey);
      return getSession(key, model, fileName, settings, log);
    });
  }
  const opening = model().then((bytes) => open(bytes, fileName, settings, log));
  sessions.set(cacheKey, opening);
  opening.catch(() => sessions.delete(cacheKey));
  return opening;
}
