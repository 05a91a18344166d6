import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import { UserError } from '../../core/errors.js';

const { onnx } = onnxProto;

/** What the model commands need from an ONNX file without starting a runtime session. */
export interface OnnxSummary {
  irVersion: number;
  metadataProps: Record<string, string>;
  /** Dimension 1 of the first graph output ([1, K, ...] for every Demucs export); undefined when symbolic. */
  stemCount: number | undefined;
}

/**
 * Decodes the ModelProto. Protobuf will happily "decode" many non-ONNX byte strings, so a file only counts as
 * ONNX when it also names an IR version and holds a graph with at least one node.
 */
export async function readOnnxSummary(file: string): Promise<OnnxSummary> {
  const bytes = await readFile(file);
  let model: InstanceType<typeof onnx.ModelProto>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw notOnnx(file, error);
  }
  const irVersion = Number(model.irVersion);
  if (!(irVersion > 0) || !model.graph || (model.graph.node ?? []).length === 0) throw notOnnx(file);
  const metadataProps: Record<string, string> = {};
  for (const prop of model.metadataProps) {
    if (prop.key) metadataProps[prop.key] = prop.value ?? '';
  }
  const dim = model.graph.output?.[0]?.type?.tensorType?.shape?.dim?.[1];
  const stemCount = dim?.dimValue != null ? Number(dim.dimValue) : undefined;
  return { irVersion, metadataProps, stemCount };
}

export async function readOnnxMetadataProps(file: string): Promise<Record<string, string>> {
  return (await readOnnxSummary(file)).metadataProps;
}

function notOnnx(file: string, cause?: unknown): UserError {
  return new UserError('model_not_onnx', `${file} is not a readable ONNX model.`, { cause });
}
