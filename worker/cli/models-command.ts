import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../core/errors.js';
import type { Logger } from '../../core/logging.js';
import { downloadModel } from '../engine/model-fetch.js';
import { modelDownloads } from '../engine/model-downloads.js';
import { ensureModelsDir, listModelFiles, modelFilePath, readSidecar, writeSidecar } from '../engine/models-dir.js';
import { readOnnxSummary } from '../engine/onnx-metadata-props.js';
import { findRegistryEntry, modelNameSchema, REGISTRY } from '../engine/registry.js';
import { describeOnnx, resolveModel } from '../engine/resolve-model.js';
import { downloadBar, formatMiB } from './download-progress.js';

export { resolveModel } from '../engine/resolve-model.js';

export interface ModelsCommandDeps {
  /** MODELS_DIR from the app's config (default ./data/models). */
  modelsDir: string;
  /** MODEL_REGISTRY_URL: a mirror's URLs and checksums for the built-in models. */
  registryUrl?: string | undefined;
  logger: Logger;
  /** Tables and results; default process.stdout. */
  stdout?: NodeJS.WritableStream;
  /** Progress bars; default process.stderr. */
  stderr?: NodeJS.WritableStream;
}

/**
 * `stembot models list | fetch NAME | add PATH-OR-URL [--name N] | verify [NAME]`. Failures throw
 * UserError. `getDeps` is called only when a models command runs, so settings are read (and can
 * fail) only then, not for `--help` or other commands.
 */
export function registerModelsCommand(program: Command, getDeps: () => ModelsCommandDeps): void {
  const withDeps = (run: (deps: ModelsCommandDeps, err: NodeJS.WritableStream, say: (line: string) => void) => Promise<void>) => async () => {
    const deps = getDeps();
    const out = deps.stdout ?? process.stdout;
    await run(deps, deps.stderr ?? process.stderr, (line) => void out.write(`${line}\n`));
  };
  const models = program.command('models').description('list, download, add and check separation models (in MODELS_DIR)');

  models
    .command('list')
    .description('show the built-in models and what is installed')
    .action(() => withDeps((deps, _err, say) => listModels(deps.modelsDir, say))());

  models
    .command('fetch')
    .description('download a built-in model, verify its SHA-256 and install it (resumes an interrupted download)')
    .argument('<name>', `one of ${REGISTRY.map((e) => e.name).join(', ')}`)
    .action((name: string) => withDeps((deps, err, say) => fetchModel(deps, err, say, name))());

  models
    .command('add')
    .description('install your own .onnx model from a file or an http(s) URL')
    .argument('<source>', 'path or URL of an .onnx file')
    .option('--name <name>', 'name to use it by (default: the file name)')
    .option('--sha256 <hex>', 'expected SHA-256 of a downloaded file')
    .action((source: string, options: { name?: string; sha256?: string }) => withDeps((deps, err, say) => addModel(deps, err, say, source, options))());

  models
    .command('verify')
    .description('check installed models: file present, SHA-256 where known, parses as ONNX')
    .argument('[name]', 'only this model')
    .action((name: string | undefined) => withDeps((deps, _err, say) => verifyModels(deps, say, name))());
}

async function listModels(modelsDir: string, say: (line: string) => void): Promise<void> {
  const files = await listModelFiles(modelsDir);
  const rows: string[][] = [['NAME', 'INSTALLED', 'SIZE', 'SOURCES', 'FROM']];
  for (const entry of REGISTRY) {
    const file = files.find((f) => f.name === entry.name);
    rows.push([entry.name, file ? 'yes' : 'no', file ? formatMiB(file.bytes) : '-', entry.sources.join(','), entry.url ? 'registry' : 'registry (no download)']);
  }
  for (const file of files.filter((f) => !findRegistryEntry(f.name))) {
    const sidecar = await readSidecar(modelsDir, file.name).catch(() => undefined);
    rows.push([file.name, 'yes', formatMiB(file.bytes), sidecar?.sources.join(',') ?? '?', sidecar ? 'added' : 'file only (not added)']);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  for (const row of rows) say(row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ').trimEnd());
  say(`models folder: ${path.resolve(modelsDir)}`);
}

async function fetchModel(deps: ModelsCommandDeps, err: NodeJS.WritableStream, say: (line: string) => void, name: string): Promise<void> {
  const entry = findRegistryEntry(name);
  if (!entry) throw new UserError('model_unknown', `There is no built-in model called ${name}. Built-in models: ${REGISTRY.map((e) => e.name).join(', ')}.`);
  const download = (await modelDownloads(deps.registryUrl)).get(name);
  if (!download) {
    throw new UserError('model_no_download', `No verified download is known for ${name}: export it to ONNX yourself and install it with \`stembot models add FILE --name ${name}-local\`.`);
  }
  const dest = modelFilePath(deps.modelsDir, name);
  if (await exists(dest)) {
    say(`${name} is already installed at ${dest} (run \`stembot models verify ${name}\` to check it).`);
    return;
  }
  const bar = downloadBar(err, name);
  try {
    const result = await downloadModel({ url: download.url, destPath: dest, sha256: download.sha256, onProgress: bar.onProgress });
    deps.logger.info({ model: name, bytes: result.bytes, sha256: result.sha256 }, 'model fetched');
    say(`${name} installed at ${dest} (${formatMiB(result.bytes)}, sha256 verified).`);
  } finally {
    bar.stop();
  }
}

async function addModel(
  deps: ModelsCommandDeps,
  err: NodeJS.WritableStream,
  say: (line: string) => void,
  source: string,
  options: { name?: string; sha256?: string },
): Promise<void> {
  const isUrl = /^https?:\/\//i.test(source);
  const name = options.name ?? path.basename(isUrl ? new URL(source).pathname : source).replace(/\.onnx$/i, '');
  if (!modelNameSchema.safeParse(name).success) {
    throw new UserError('model_name_invalid', `"${name}" cannot be a model name: use letters, digits, "_", "." and "-" (pass --name).`);
  }
  if (findRegistryEntry(name)) throw new UserError('model_name_taken', `${name} is a built-in model; pick another name with --name.`);
  const dest = modelFilePath(deps.modelsDir, name);
  if (await exists(dest)) throw new UserError('model_name_taken', `A model called ${name} is already installed (${dest}); pick another name with --name.`);

  await ensureModelsDir(deps.modelsDir);
  // Staged next to the final file so the rename is atomic and a half-copied model is never picked up.
  const staged = `${dest}.incoming`;
  try {
    if (isUrl) {
      const bar = downloadBar(err, name);
      try {
        await downloadModel({ url: source, destPath: staged, sha256: options.sha256, onProgress: bar.onProgress });
      } finally {
        bar.stop();
      }
    } else {
      if (!(await exists(source))) throw new UserError('model_missing', `The model file ${source} does not exist.`);
      await copyFile(source, staged);
    }
    const { sources, sampleRate } = describeOnnx(await readOnnxSummary(staged), source);
    const bytes = (await stat(staged)).size;
    const sha256 = await sha256File(staged);
    await rename(staged, dest);
    await writeSidecar(deps.modelsDir, { name, sources, sampleRate, sha256, bytes, origin: source, addedAt: new Date().toISOString() });
    deps.logger.info({ model: name, origin: source, bytes }, 'model added');
    say(`${name} added: ${sources.join(', ')} at ${sampleRate} Hz (${formatMiB(bytes)}). Use it with --model ${name}.`);
  } finally {
    await rm(staged, { force: true });
  }
}

async function verifyModels(deps: ModelsCommandDeps, say: (line: string) => void, only: string | undefined): Promise<void> {
  const names = only ? [(await resolveModel(deps.modelsDir, { name: only })).name] : (await listModelFiles(deps.modelsDir)).map((f) => f.name);
  if (names.length === 0) {
    say(`No models installed in ${deps.modelsDir}: run \`stembot models fetch htdemucs\`.`);
    return;
  }
  const failed: string[] = [];
  for (const name of names) {
    const problem = await checkModel(deps.modelsDir, name);
    say(`${name}: ${problem ?? 'ok'}`);
    if (problem) failed.push(name);
  }
  if (failed.length > 0) {
    throw new UserError('model_verify_failed', `${failed.length} model(s) failed verification (${failed.join(', ')}): fetch or add them again.`);
  }
}

/** Undefined when the model is sound, else what is wrong with it, in a few words. */
async function checkModel(modelsDir: string, name: string): Promise<string | undefined> {
  const file = modelFilePath(modelsDir, name);
  if (!(await exists(file))) return 'file missing';
  const expected = findRegistryEntry(name)?.sha256 ?? (await readSidecar(modelsDir, name).catch(() => undefined))?.sha256;
  if (expected && (await sha256File(file)) !== expected) return 'SHA-256 mismatch (file damaged or replaced)';
  try {
    await readOnnxSummary(file);
  } catch {
    return 'not a readable ONNX model';
  }
  return undefined;
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
