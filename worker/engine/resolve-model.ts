import { stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../../core/errors.js';
import { checkSourceNames, parseSourcesProp, SOURCES_KEY } from './model-metadata.js';
import { modelFilePath, readSidecar } from './models-dir.js';
import { readOnnxSummary } from './onnx-metadata-props.js';
import { DEFAULT_MODEL, defaultSourcesFor, findRegistryEntry, HTDEMUCS_SAMPLE_RATE, REGISTRY, type ModelContract } from './registry.js';

export interface ResolvedModel {
  name: string;
  path: string;
  sources: string[];
  sampleRate: number;
  /** Known for registry models; for other files the engine reads it off the graph's inputs. */
  contract?: ModelContract;
  segment?: number;
}

export interface ModelChoice {
  /** A registry or `models add` name; default `htdemucs`. */
  name?: string;
  /** A model file given by path, described by its ONNX metadata or the htdemucs defaults. */
  modelFile?: string;
}

/** Turns the user's model choice into a file on disk and what the engine must know about it. */
export async function resolveModel(modelsDir: string, choice: ModelChoice): Promise<ResolvedModel> {
  if (choice.name && choice.modelFile) {
    throw new UserError('model_ambiguous', 'Give either a model name or a model file, not both.');
  }
  if (choice.modelFile) return resolveFile(choice.modelFile);
  const name = choice.name ?? DEFAULT_MODEL;
  const entry = findRegistryEntry(name);
  if (entry) {
    const file = modelFilePath(modelsDir, name);
    if (!(await isFile(file))) {
      throw new UserError('model_missing', `Model ${name} is not downloaded yet: run \`stembot models fetch ${name}\` (it goes to ${modelsDir}).`);
    }
    return { name, path: file, sources: [...entry.sources], sampleRate: entry.sampleRate, contract: entry.contract, segment: entry.segment };
  }
  return resolveLocal(modelsDir, name);
}

async function resolveLocal(modelsDir: string, name: string): Promise<ResolvedModel> {
  // A damaged or unsafe description is reported as such (UserError); an unreadable one counts as absent.
  const sidecar = await readSidecar(modelsDir, name).catch((error: unknown) => {
    if (error instanceof UserError) throw error;
    return undefined;
  });
  if (!sidecar) {
    const known = REGISTRY.map((e) => e.name).join(', ');
    throw new UserError('model_unknown', `There is no model called ${name}. Known models: ${known}; add your own with \`stembot models add FILE --name ${name}\`.`);
  }
  const file = modelFilePath(modelsDir, name);
  if (!(await isFile(file))) {
    throw new UserError('model_missing', `The file for model ${name} is gone from ${modelsDir}: add it again with \`stembot models add FILE --name ${name}\`.`);
  }
  return {
    name,
    path: file,
    sources: sidecar.sources,
    sampleRate: sidecar.sampleRate,
    ...(sidecar.contract ? { contract: sidecar.contract } : {}),
    ...(sidecar.segment ? { segment: sidecar.segment } : {}),
  };
}

async function resolveFile(modelFile: string): Promise<ResolvedModel> {
  if (!(await isFile(modelFile))) throw new UserError('model_missing', `The model file ${modelFile} does not exist.`);
  const described = describeOnnx(await readOnnxSummary(modelFile), modelFile);
  return { name: path.basename(modelFile, '.onnx'), path: modelFile, ...described };
}

/** Sources and rate from `stembot.sources` / `stembot.sample_rate` metadata, else the htdemucs defaults. */
export function describeOnnx(
  summary: { metadataProps: Record<string, string>; stemCount: number | undefined },
  fileName: string,
): { sources: string[]; sampleRate: number } {
  const rawSources = summary.metadataProps[SOURCES_KEY];
  const sources = rawSources ? (parseSourcesProp(rawSources) ?? []) : defaultSourcesFor(summary.stemCount);
  const rawRate = summary.metadataProps['stembot.sample_rate'];
  const sampleRate = rawRate === undefined ? HTDEMUCS_SAMPLE_RATE : Number(rawRate);
  if (sources.length === 0 || !Number.isInteger(sampleRate) || sampleRate <= 0) {
    throw new UserError('model_metadata_invalid', `The model's stembot.sources / stembot.sample_rate metadata is malformed ("${rawSources ?? ''}", "${rawRate ?? ''}").`);
  }
  if (summary.stemCount !== undefined && summary.stemCount !== sources.length) {
    throw new UserError('model_metadata_invalid', `The model names ${sources.length} sources but its graph outputs ${summary.stemCount}.`);
  }
  checkSourceNames(sources, fileName);
  return { sources, sampleRate };
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}
