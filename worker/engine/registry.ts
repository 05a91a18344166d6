import { z } from 'zod';
import { safeNameSchema } from '../../core/storage.js';

/** htdemucs' output order; every 4-stem Demucs v4 export keeps it. */
export const HTDEMUCS_SOURCES = ['drums', 'bass', 'other', 'vocals'] as const;
export const HTDEMUCS_6S_SOURCES = [...HTDEMUCS_SOURCES, 'guitar', 'piano'] as const;
export const HTDEMUCS_SAMPLE_RATE = 44100;
export const HTDEMUCS_SEGMENT = 343980; // 7.8 s at 44.1 kHz: htdemucs' training segment, fixed in the exported graph

/** Model names double as file names in MODELS_DIR, so they stay file-system safe. */
export const modelNameSchema = safeNameSchema;

/**
 * Source (stem) names become file names too: the CLI's `{stem}` and the stored masters
 * `masters/{stem}.flac`. Same rule as model names, and no name twice (one stem would overwrite another).
 */
export const sourceNamesSchema = z
  .array(safeNameSchema)
  .min(1)
  .refine((names) => new Set(names).size === names.length, 'a source is named twice');

/** See DESIGN.md "Two ONNX contracts": the whole model in the graph, or the STFT done by the host. */
export const modelContractSchema = z.enum(['waveform', 'split']);
export type ModelContract = z.infer<typeof modelContractSchema>;

export const registryEntrySchema = z.object({
  name: modelNameSchema,
  description: z.string(),
  contract: modelContractSchema,
  sources: sourceNamesSchema,
  sampleRate: z.number().int().positive(),
  /** The graph's fixed input length in samples. */
  segment: z.number().int().positive(),
  licence: z.string(),
  /** Absent when no public export could be verified; `models fetch` then says so. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  bytes: z.number().int().positive().optional(),
});
export type RegistryEntry = z.infer<typeof registryEntrySchema>;

/*
 * Where the URLs and checksums come from: the exports' own Hugging Face / GitHub release pages, each pinned to an
 * immutable revision, and each checksum cross-checked against other projects that ship the same file.
 * - htdemucs: StemSplitio/htdemucs-onnx `htdemucs.onnx` (fp32 weights, the faithful choice over the fp16 file).
 * - htdemucs_6s: only the fp16-stored-weights file of StemSplitio/htdemucs-6s-onnx has a checksum we could verify;
 *   its outputs differ from demucs' fp32 weights by fp16 rounding of the weights.
 * - htdemucs_ft: the four fine-tuned members fused into one graph (thedavidweng/openkara-models release
 *   model-ft-v2.0.1); the checksum is the one that project's own code pins.
 */
export const REGISTRY: readonly RegistryEntry[] = z.array(registryEntrySchema).parse([
  {
    name: 'htdemucs',
    description: 'Hybrid Transformer Demucs v4, 4 stems (demucs default)',
    contract: 'waveform',
    sources: [...HTDEMUCS_SOURCES],
    sampleRate: HTDEMUCS_SAMPLE_RATE,
    segment: HTDEMUCS_SEGMENT,
    licence: 'MIT (Meta demucs weights; ONNX export by StemSplit, MIT)',
    url: 'https://huggingface.co/StemSplitio/htdemucs-onnx/resolve/d54ed9eb60e258ea82131c6ee14578628816456a/htdemucs.onnx',
    sha256: '68d0bf16428ef66e692cdff8a9ccf28f1ef3f69440d57e58605a4cc55fcc5e74',
    bytes: 316_446_953,
  },
  {
    name: 'htdemucs_ft',
    description: 'htdemucs fine-tuned per source (4 models in one graph), better and 4x slower',
    contract: 'waveform',
    sources: [...HTDEMUCS_SOURCES],
    sampleRate: HTDEMUCS_SAMPLE_RATE,
    segment: HTDEMUCS_SEGMENT,
    licence: 'MIT (Meta demucs weights; ONNX export by openkara-models, MIT)',
    url: 'https://github.com/thedavidweng/openkara-models/releases/download/model-ft-v2.0.1/htdemucs_ft.onnx',
    sha256: '0f2efbd7044182c10a6e8169b670392a3a91f904635e29329d6a3667375f5c94',
  },
  {
    name: 'htdemucs_6s',
    description: 'htdemucs with guitar and piano, 6 stems (piano is weak)',
    contract: 'waveform',
    sources: [...HTDEMUCS_6S_SOURCES],
    sampleRate: HTDEMUCS_SAMPLE_RATE,
    segment: HTDEMUCS_SEGMENT,
    licence: 'MIT (Meta demucs weights; ONNX export by StemSplit, MIT)',
    url: 'https://huggingface.co/StemSplitio/htdemucs-6s-onnx/resolve/49df9b6989cf2150840ea65b0bef77a2e471b678/htdemucs_6s_fp16weights.onnx',
    sha256: '7ce55792e2231c93fbf92de95f5fd5b3a5e6c89f7db690dfd693e8f1dce56869',
    bytes: 136_428_532,
  },
]);

export const DEFAULT_MODEL = 'htdemucs';

export function findRegistryEntry(name: string): RegistryEntry | undefined {
  return REGISTRY.find((entry) => entry.name === name);
}

/** What a model file without metadata is assumed to be: htdemucs, or htdemucs_6s when it has six outputs. */
export function defaultSourcesFor(stemCount: number | undefined): string[] {
  return stemCount === HTDEMUCS_6S_SOURCES.length ? [...HTDEMUCS_6S_SOURCES] : [...HTDEMUCS_SOURCES];
}
