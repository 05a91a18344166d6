import { writeFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

function tensor(name: string, dims: number[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
}

/** A tiny waveform-contract-shaped graph ([1,2,S] -> [1,K,2,S]) with optional metadata_props. */
export function tinyModelBytes(stems: number, metadata: Record<string, string> = {}): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'stembot-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      node: [{ opType: 'Identity', input: ['mix'], output: ['stems'], name: 'id' }],
      input: [tensor('mix', [1, 2, 16])],
      output: [tensor('stems', [1, stems, 2, 16])],
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

export async function writeTinyModel(file: string, stems: number, metadata: Record<string, string> = {}): Promise<void> {
  await writeFile(file, tinyModelBytes(stems, metadata));
}
