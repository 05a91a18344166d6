import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UserError } from '../../core/errors.js';
import { modelContractSchema, modelNameSchema, sourceNamesSchema } from './registry.js';

/** `{dir}/{name}.onnx`: the layout `models fetch` writes and `separate` reads. */
export function modelFilePath(modelsDir: string, name: string): string {
  return path.join(modelsDir, `${modelNameSchema.parse(name)}.onnx`);
}

/** `{dir}/{name}.json`: what `models add` learnt about a user-added model. */
export function sidecarPath(modelsDir: string, name: string): string {
  return path.join(modelsDir, `${modelNameSchema.parse(name)}.json`);
}

export async function ensureModelsDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new UserError('models_dir_unwritable', `Cannot create the models folder ${dir}: check MODELS_DIR and its permissions.`, { cause: error });
  }
}

export const localModelSchema = z.object({
  name: modelNameSchema,
  sources: sourceNamesSchema,
  sampleRate: z.number().int().positive(),
  contract: modelContractSchema.optional(),
  segment: z.number().int().positive().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  /** The path or URL it was added from, for `models list`. */
  origin: z.string(),
  addedAt: z.iso.datetime(),
});
export type LocalModel = z.infer<typeof localModelSchema>;

export async function readSidecar(modelsDir: string, name: string): Promise<LocalModel | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(modelsDir, name), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const parsed = localModelSchema.safeParse(parseJson(text));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'file'}: ${issue.message}`).join('; ');
    throw new UserError('model_sidecar_invalid', `The description of model ${name} (${sidecarPath(modelsDir, name)}) is damaged or unsafe (${problems}): add the model again with \`stembot models add FILE --name ${name}\`.`);
  }
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export async function writeSidecar(modelsDir: string, model: LocalModel): Promise<void> {
  const file = sidecarPath(modelsDir, model.name);
  await writeFile(`${file}.part`, `${JSON.stringify(localModelSchema.parse(model), null, 2)}\n`);
  await rename(`${file}.part`, file);
}

export interface InstalledFile {
  name: string;
  path: string;
  bytes: number;
}

/** Every `{name}.onnx` in the folder; a missing folder simply holds nothing yet. */
export async function listModelFiles(modelsDir: string): Promise<InstalledFile[]> {
  let names: string[];
  try {
    names = await readdir(modelsDir);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const files: InstalledFile[] = [];
  for (const entry of names.filter((n) => n.endsWith('.onnx')).sort()) {
    const name = entry.slice(0, -'.onnx'.length);
    if (!modelNameSchema.safeParse(name).success) continue;
    const info = await stat(path.join(modelsDir, entry));
    if (info.isFile()) files.push({ name, path: path.join(modelsDir, entry), bytes: info.size });
  }
  return files;
}

export function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
