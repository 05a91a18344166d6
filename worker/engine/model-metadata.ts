import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { UserError } from '../../core/errors.js';
import { defaultSourcesFor, HTDEMUCS_SAMPLE_RATE } from './registry.js';

/** What a model file says about itself through ONNX `metadata_props`, htdemucs defaults otherwise. */
export interface ModelMetadata {
  /** Source names in output order; undefined when the file does not name them. */
  sources: string[] | undefined;
  /** Sample rate the model was trained at, in Hz. */
  sampleRate: number;
}

const SOURCES_KEY = 'stembot.sources';
const SAMPLE_RATE_KEY = 'stembot.sample_rate';

/** Reads the metadata of an encoded ONNX model; throws `UserError('model_corrupt')` when it is not one. */
export function parseModelMetadata(bytes: Uint8Array, fileName: string): ModelMetadata {
  let props: onnxProto.onnx.IStringStringEntryProto[];
  try {
    props = onnxProto.onnx.ModelProto.decode(bytes).metadataProps;
  } catch (cause) {
    throw new UserError('model_corrupt', `The model file ${fileName} is not a valid ONNX model.`, { cause });
  }
  const get = (key: string): string | undefined => props.find((p) => p.key === key)?.value ?? undefined;
  const sources = get(SOURCES_KEY)
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const rate = get(SAMPLE_RATE_KEY);
  const sampleRate = rate === undefined ? HTDEMUCS_SAMPLE_RATE : Number(rate);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new UserError('model_metadata', `The model file ${fileName} has an invalid ${SAMPLE_RATE_KEY}: "${rate}".`);
  }
  return { sources: sources && sources.length > 0 ? sources : undefined, sampleRate };
}

export async function readModelMetadata(path: string, fileName = path): Promise<ModelMetadata> {
  return parseModelMetadata(await readFile(path), fileName);
}

/** Source names for a graph with `count` outputs: the file's own, else htdemucs' 4 or 6. */
export function sourceNames(metadata: ModelMetadata, count: number, fileName: string): string[] {
  if (metadata.sources) return metadata.sources;
  const defaults = defaultSourcesFor(count);
  if (defaults.length === count) return defaults;
  throw new UserError('model_metadata', `The model file ${fileName} returns ${count} sources but does not name them (set ${SOURCES_KEY}).`);
}
