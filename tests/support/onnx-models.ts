import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';

/**
 * Tiny ONNX models in both htdemucs contracts, built with standard ops, so the engine runs real
 * onnxruntime sessions in tests. Each model's maths is stated next to it; the tests transcribe
 * the same maths in plain JS (demucs-reference.ts) to compute expected stems independently.
 */

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const OPSET = 17;

export type Dim = number | string;

/** Per-source fractions of the input; the stems sum back to the (normalised) input. */
export const FRACTIONS = [0.1, 0.2, 0.3, 0.4];
/** Split models put these fractions on the time branch and FREQ_FRACTIONS on the frequency one. */
export const TIME_FRACTIONS = [0.05, 0.1, 0.15, 0.2];
export const FREQ_FRACTIONS = [0.05, 0.1, 0.15, 0.2];

/** ramp model, source k at segment position s: `x * ((s + 1) / S + k) + cumsum(x)[s] * CUMSUM_GAIN * (k + 1)`. */
export const CUMSUM_GAIN = 0.01;

/** The first `k` fractions; sources past the list get none (6-source models keep the sum at 1). */
const padded = (fractions: readonly number[], k: number): number[] => Array.from({ length: k }, (_, i) => fractions[i] ?? 0);

function valueInfo(name: string, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function floats(name: string, dims: readonly number[], values: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, floatData: Array.from(values) };
}

function int64s(name: string, values: readonly number[]): onnxProto.onnx.ITensorProto {
  return { name, dims: [values.length], dataType: INT64, int64Data: [...values] };
}

function node(opType: string, input: string[], output: string[]): onnxProto.onnx.INodeProto {
  return { opType, input, output, name: output[0] ?? opType };
}

interface GraphParts {
  nodes: onnxProto.onnx.INodeProto[];
  initializers: onnxProto.onnx.ITensorProto[];
}

/** `[B,2,S]` -> `[B,K,2,S]`: fractions, or the ramp-plus-cumsum position-dependent map. */
function timeBranch(kind: 'fractions' | 'ramp', input: string, output: string, k: number, s: number, fractions: readonly number[]): GraphParts {
  const initializers = [int64s('axis1', [1]), int64s('axis2', [2])];
  const nodes = [node('Unsqueeze', [input, 'axis1'], [`${output}_u`])];
  if (kind === 'fractions') {
    initializers.push(floats(`${output}_frac`, [1, k, 1, 1], padded(fractions, k)));
    nodes.push(node('Mul', [`${output}_u`, `${output}_frac`], [output]));
    return { nodes, initializers };
  }
  const ramp = Float32Array.from({ length: k * s }, (_, i) => ((i % s) + 1) / s + Math.floor(i / s));
  const gain = Array.from({ length: k }, (_, j) => CUMSUM_GAIN * (j + 1));
  initializers.push(floats(`${output}_ramp`, [1, k, 1, s], ramp), floats(`${output}_gain`, [1, k, 1, 1], gain));
  nodes.push(
    node('Mul', [`${output}_u`, `${output}_ramp`], [`${output}_a`]),
    node('CumSum', [input, 'axis2'], [`${output}_cs`]),
    node('Unsqueeze', [`${output}_cs`, 'axis1'], [`${output}_csu`]),
    node('Mul', [`${output}_csu`, `${output}_gain`], [`${output}_b`]),
    node('Add', [`${output}_a`, `${output}_b`], [output]),
  );
  return { nodes, initializers };
}

/** `[B,4,F,T]` -> `[B,K,4,F,T]`: fractions, or for ramp `spec[c, f, t] * (k + 1) * (1 + t / T) * (1 + f / 2048)`. */
function freqBranch(kind: 'fractions' | 'ramp', input: string, output: string, k: number, frames: number): GraphParts {
  const bins = 2048;
  const nodes = [node('Unsqueeze', [input, 'axis1'], [`${output}_u`])];
  if (kind === 'fractions') {
    return {
      nodes: [...nodes, node('Mul', [`${output}_u`, `${output}_frac`], [output])],
      initializers: [floats(`${output}_frac`, [1, k, 1, 1, 1], padded(FREQ_FRACTIONS, k))],
    };
  }
  const byFrame = Float32Array.from({ length: k * frames }, (_, i) => (Math.floor(i / frames) + 1) * (1 + (i % frames) / frames));
  const byBin = Float32Array.from({ length: bins }, (_, f) => 1 + f / bins);
  return {
    nodes: [
      ...nodes,
      node('Mul', [`${output}_u`, `${output}_t`], [`${output}_a`]),
      node('Mul', [`${output}_a`, `${output}_f`], [output]),
    ],
    initializers: [floats(`${output}_t`, [1, k, 1, 1, frames], byFrame), floats(`${output}_f`, [1, 1, 1, bins, 1], byBin)],
  };
}

export interface TestModelSpec {
  contract: 'waveform' | 'split';
  kind: 'fractions' | 'ramp';
  segment: number;
  sources?: number;
  /** `'batch'` makes the batch dimension symbolic. */
  batch?: Dim;
  metadata?: Record<string, string>;
  /** Overrides for declared shapes, to build models that break the contract. */
  inputShapes?: Dim[][];
  outputShapes?: Dim[][];
  /** Split models list their outputs time-first when set, to show detection ignores order. */
  timeFirst?: boolean;
}

export function buildModel(spec: TestModelSpec): Uint8Array {
  const k = spec.sources ?? 4;
  const s = spec.segment;
  const b = spec.batch ?? 1;
  const frames = Math.ceil(s / 1024);
  const time = timeBranch(spec.kind, 'mix', 'time', k, s, spec.contract === 'split' ? TIME_FRACTIONS : FRACTIONS);
  let parts = time;
  let inputs = [valueInfo('mix', [b, 2, s])];
  let outputs = [valueInfo('time', [b, k, 2, s])];
  if (spec.contract === 'split') {
    const freq = freqBranch(spec.kind, 'spec', 'freq', k, frames);
    parts = { nodes: [...time.nodes, ...freq.nodes], initializers: [...time.initializers, ...freq.initializers] };
    inputs = [...inputs, valueInfo('spec', [b, 4, 2048, frames])];
    const freqOut = valueInfo('freq', [b, k, 4, 2048, frames]);
    outputs = spec.timeFirst ? [...outputs, freqOut] : [freqOut, ...outputs];
  }
  if (spec.inputShapes) inputs = inputs.map((v, i) => valueInfo(v.name ?? '', spec.inputShapes?.[i] ?? []));
  if (spec.outputShapes) outputs = outputs.map((v, i) => valueInfo(v.name ?? '', spec.outputShapes?.[i] ?? []));
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    producerName: 'stembot-tests',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: { name: `${spec.contract}-${spec.kind}`, node: parts.nodes, initializer: parts.initializers, input: inputs, output: outputs },
    metadataProps: Object.entries(spec.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  return onnx.ModelProto.encode(model).finish();
}

/** Writes the model to a fresh temp dir and returns its path. */
export async function writeModel(spec: TestModelSpec, name = 'model.onnx'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'stembot-model-'));
  const path = join(dir, name);
  await writeFile(path, buildModel(spec));
  return path;
}
