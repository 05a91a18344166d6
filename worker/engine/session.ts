import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';

export const deviceSchema = z.enum(['cpu', 'cuda', 'auto']);
/** `auto`: CUDA where onnxruntime has it, else CPU. */
export type Device = z.infer<typeof deviceSchema>;

export interface SessionSettings {
  device: Device;
  /** onnxruntime intra-op threads; undefined lets onnxruntime pick (all cores). */
  intraOpThreads?: number;
}

export interface OpenSession {
  session: ort.InferenceSession;
  provider: 'cpu' | 'cuda';
}

/** onnxruntime severity 3: errors and fatal only. */
const ORT_LOG_ERRORS_ONLY = 3;

// One session per model file and settings per process: loading htdemucs takes seconds and
// hundreds of MB, and a session serves concurrent runs.
const sessions = new Map<string, Promise<OpenSession>>();

async function create(model: Uint8Array, provider: 'cpu' | 'cuda', settings: SessionSettings): Promise<ort.InferenceSession> {
  // onnxruntime's own warnings go straight to stderr, bypassing our logs; keep only its errors.
  const options: ort.InferenceSession.SessionOptions = { executionProviders: [provider], logSeverityLevel: ORT_LOG_ERRORS_ONLY };
  if (settings.intraOpThreads !== undefined) options.intraOpNumThreads = settings.intraOpThreads;
  return ort.InferenceSession.create(model, options);
}

async function open(model: Uint8Array, fileName: string, settings: SessionSettings, log: Logger): Promise<OpenSession> {
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

/**
 * The process-wide session for a model; `model` is the file's bytes, read once by the caller.
 * A failed load is not cached, so a fixed file can be retried.
 */
export function getSession(key: string, model: () => Promise<Uint8Array>, fileName: string, settings: SessionSettings, log: Logger): Promise<OpenSession> {
  const cacheKey = `${key}|${settings.device}|${settings.intraOpThreads ?? ''}`;
  const cached = sessions.get(cacheKey);
  if (cached) return cached;
  const opening = model().then((bytes) => open(bytes, fileName, settings, log));
  sessions.set(cacheKey, opening);
  opening.catch(() => sessions.delete(cacheKey));
  return opening;
}
