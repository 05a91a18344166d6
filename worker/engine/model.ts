import { readFile, realpath } from 'node:fs/promises';
import { basename } from 'node:path';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { detectContract, type ModelContract } from './contract.js';
import { checkSourceNames, parseModelMetadata, sourceNames, type ModelMetadata } from './model-metadata.js';
import type { ModelSession } from './inference-thread.js';
import { getSession, type SessionSettings } from './session.js';

/** A model ready to separate with: its session, contract, source names and sample rate. */
export interface LoadedModel {
  path: string;
  session: ModelSession;
  provider: 'cpu' | 'cuda';
  contract: ModelContract;
  sources: string[];
  /** Hz; the input must already be at this rate. */
  sampleRate: number;
}

// Kept beside the cached sessions so a cached model is not re-read (hundreds of MB) per job; like
// the sessions, it assumes a model file does not change while the process runs.
const metadataByPath = new Map<string, ModelMetadata>();

/**
 * Loads a model file given by path (sessions are cached per file); names and rate come from its
 * `metadata_props`, else htdemucs defaults. `expected` comes from a registry entry when known.
 */
async function metadataOf(resolved: string, read: () => Promise<Uint8Array>, fileName: string): Promise<ModelMetadata> {
  const metadata = metadataByPath.get(resolved) ?? parseModelMetadata(await read(), fileName);
  metadataByPath.set(resolved, metadata);
  return metadata;
}

export async function loadModel(
  path: string,
  settings: SessionSettings,
  log: Logger,
  expected: { sources?: string[]; sampleRate?: number; segment?: number } = {},
): Promise<LoadedModel> {
  const fileName = basename(path);
  const resolved = await realpath(path).catch((cause: unknown) => {
    throw new UserError('model_not_found', `The model file ${fileName} does not exist.`, { cause });
  });
  let bytes: Uint8Array | undefined;
  const read = async (): Promise<Uint8Array> => (bytes ??= await readFile(resolved));
  const { session, provider } = await getSession(resolved, read, fileName, settings, log);
  // Callers that resolved the model (the CLI, the worker) already read its metadata: decoding a
  // file of hundreds of MB a second time is only needed when they did not.
  const described = expected.sources !== undefined && expected.sampleRate !== undefined;
  const metadata = described ? { sources: expected.sources, sampleRate: expected.sampleRate as number } : await metadataOf(resolved, read, fileName);
  const contract = detectContract(session.inputMetadata, session.outputMetadata, {
    sources: expected.sources?.length ?? metadata.sources?.length,
    segment: expected.segment,
  });
  const sources = expected.sources ?? sourceNames(metadata, contract.sources, fileName);
  // Whoever described the model, its source names become file names from here on.
  checkSourceNames(sources, fileName);
  const sampleRate = expected.sampleRate ?? metadata.sampleRate;
  return { path: resolved, session, provider, contract, sources, sampleRate };
}
