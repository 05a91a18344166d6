import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { UserError } from '../../core/errors.js';
import { SAFE_NAME_RULE, safeNameSchema } from '../../core/storage.js';
import { defaultSourcesFor, HTDEMUCS_SAMPLE_RATE, sourceNamesSchema } from './registry.js';

/** What a model file says about itself through ONNX `metadata_props`, htdemucs defaults otherwise. */
export interface ModelMetadata {
  /** Source names in output order; undefined when the file does not name them. */
  sources: string[] | undefined;
  /** Sample rate the model was trained at, in Hz. */
  sampleRate: number;
}

export const SOURCES_KEY = 'stembot.sources';
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
  const sources = parseSourcesProp(get(SOURCES_KEY));
  const rate = get(SAMPLE_RATE_KEY);
  const sampleRate = rate === undefined ? HTDEMUCS_SAMPLE_RATE : Number(rate);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new UserError('model_metadata', `The model file ${fileName} has an invalid ${SAMPLE_RATE_KEY}: "${rate}".`);
  }
  return { sources, sampleRate };
}

export async function readModelMetadata(path: string, fileName = path): Promise<ModelMetadata> {
  return parseModelMetadata(await readFile(path), fileName);
}

/** The names in a `stembot.sources` value (comma-separated); undefined when it names none. */
export function parseSourcesProp(raw: string | undefined): string[] | undefined {
  const sources = raw
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return sources && sources.length > 0 ? sources : undefined;
}

/**
 * Refuses source names that cannot be file names. They become `{stem}` in the CLI's output paths
 * and the stored masters' keys, so a name like `../../x` would write outside its folder.
 */
export function checkSourceNames(sources: readonly string[], fileName: string): void {
  if (sourceNamesSchema.safeParse(sources).success) return;
  const unsafe = sources.find((name) => !safeNameSchema.safeParse(name).success);
  // JSON quoting shows control characters and quotes as escapes instead of letting them reach the terminal.
  const problem =
    unsafe === undefined
      ? `names the source ${JSON.stringify(sources.find((name, i) => sources.indexOf(name) !== i))} twice`
      : `names a source ${JSON.stringify(unsafe.slice(0, 80))}: source names become file names, so they may hold ${SAFE_NAME_RULE}`;
  throw new UserError('model_source_names', `The model ${fileName} ${problem}. Fix its ${SOURCES_KEY} metadata.`);
}

/** Source names for a graph with `count` outputs: the file's own, else htdemucs' 4 or 6. */
export function sourceNames(metadata: ModelMetadata, count: number, fileName: string): string[] {
  if (metadata.sources) return metadata.sources;
  const defaults = defaultSourcesFor(count);
  if (defaults.length === count) return defaults;
  throw new UserError('model_metadata', `The model file ${fileName} returns ${count} sources but does not name them (set ${SOURCES_KEY}).`);
}
