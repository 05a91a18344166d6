import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/logging.js';
import { registerModelsCommand, resolveModel } from '../../../worker/cli/models-command.js';
import { ModelHost } from '../../support/model-host.js';
import { tinyModelBytes, writeTinyModel } from '../engine/onnx-fixture.js';
import { rejectsWithUserError } from '../../support/user-error.js';

let dir: string;
let modelsDir: string;
let server: Server;
let base: string;
const served = tinyModelBytes(2, { 'stembot.sources': 'lead,rest', 'stembot.sample_rate': '44100' });

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/choir.onnx') res.writeHead(200, { 'content-length': served.length }).end(Buffer.from(served));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stembot-models-cli-'));
  modelsDir = path.join(dir, 'models');
});

/** Runs `stembot models ...` through commander the way the real CLI does; returns stdout. */
async function models(...args: string[]): Promise<string> {
  return modelsWith({}, ...args);
}

async function modelsWith(settings: { registryUrl?: string }, ...args: string[]): Promise<string> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const program = new Command().exitOverride();
  registerModelsCommand(program, () => ({ modelsDir, ...settings, logger: createLogger({ level: 'silent' }), stdout, stderr: new PassThrough() }));
  await program.parseAsync(['node', 'stembot', 'models', ...args]);
  return Buffer.concat(chunks).toString('utf8');
}


describe('stembot models', () => {
  it('add copies a local ONNX file, reads its metadata props and records a sidecar', async () => {
    const source = path.join(dir, 'my-choir.onnx');
    await writeTinyModel(source, 2, { 'stembot.sources': 'soprano,alto', 'stembot.sample_rate': '48000' });
    const out = await models('add', source, '--name', 'choir');
    expect(out).toContain('choir added: soprano, alto at 48000 Hz');

    expect((await readdir(modelsDir)).sort()).toEqual(['choir.json', 'choir.onnx']);
    const sidecar = JSON.parse(await readFile(path.join(modelsDir, 'choir.json'), 'utf8')) as Record<string, unknown>;
    const bytes = await readFile(source);
    expect(sidecar).toMatchObject({ name: 'choir', sources: ['soprano', 'alto'], sampleRate: 48000, bytes: bytes.length, origin: source });
    expect(sidecar.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    await expect(resolveModel(modelsDir, { name: 'choir' })).resolves.toMatchObject({ sources: ['soprano', 'alto'], sampleRate: 48000 });
  });

  it('add without metadata takes the htdemucs defaults and the file name', async () => {
    const source = path.join(dir, 'plain6.onnx');
    await writeTinyModel(source, 6);
    await models('add', source);
    await expect(resolveModel(modelsDir, { name: 'plain6' })).resolves.toMatchObject({ sources: ['drums', 'bass', 'other', 'vocals', 'guitar', 'piano'], sampleRate: 44100 });
  });

  it('add fetches a model from a URL', async () => {
    await models('add', `${base}/choir.onnx`);
    await expect(resolveModel(modelsDir, { name: 'choir' })).resolves.toMatchObject({ sources: ['lead', 'rest'] });
    expect((await rejectsWithUserError(models('add', `${base}/gone.onnx`))).code).toBe('model_download_failed');
  });

  it('add refuses non-ONNX files, built-in names and duplicates, leaving nothing behind', async () => {
    const text = path.join(dir, 'notes.onnx');
    await writeFile(text, 'not a model');
    expect((await rejectsWithUserError(models('add', text))).code).toBe('model_not_onnx');
    expect(await readdir(modelsDir)).toEqual([]);

    const source = path.join(dir, 'x.onnx');
    await writeTinyModel(source, 4);
    expect((await rejectsWithUserError(models('add', source, '--name', 'htdemucs'))).code).toBe('model_name_taken');
    await models('add', source);
    expect((await rejectsWithUserError(models('add', source))).code).toBe('model_name_taken');
    expect((await rejectsWithUserError(models('add', source, '--name', '../up'))).code).toBe('model_name_invalid');
  });

  it('add refuses a model whose stembot.sources names a path or a source twice, leaving nothing behind', async () => {
    const source = path.join(dir, 'evil.onnx');
    await writeTinyModel(source, 2, { 'stembot.sources': '../../../tmp/x,alto' });
    const error = await rejectsWithUserError(models('add', source));
    expect(error.code).toBe('model_source_names');
    expect(error.message).toBe(`The model ${source} names a source "../../../tmp/x": source names become file names, so they may hold letters, digits, "_", "." and "-" only, starting with a letter or digit (at most 64). Fix its stembot.sources metadata.`);
    await writeTinyModel(source, 2, { 'stembot.sources': 'alto,alto' });
    expect((await rejectsWithUserError(models('add', source))).message).toContain('names the source "alto" twice');
    expect(await readdir(modelsDir)).toEqual([]);
  });

  it('a model added with unsafe source names (hand-edited, or added before they were checked) is refused when used, saying what is wrong', async () => {
    const source = path.join(dir, 'choir.onnx');
    await writeTinyModel(source, 2, { 'stembot.sources': 'soprano,alto' });
    await models('add', source);
    const sidecar = path.join(modelsDir, 'choir.json');
    await writeFile(sidecar, (await readFile(sidecar, 'utf8')).replace('"soprano"', '"../../../tmp/x"'));
    const error = await rejectsWithUserError(resolveModel(modelsDir, { name: 'choir' }));
    expect(error.code).toBe('model_sidecar_invalid');
    expect(error.message).toContain(`The description of model choir (${sidecar}) is damaged or unsafe (sources.0: letters, digits`);
    expect(error.message).toContain('stembot models add FILE --name choir');
  });

  it('list shows the registry, what is installed, sizes and sources', async () => {
    expect(await models('list')).toMatch(/htdemucs\s+no\s+-\s+drums,bass,other,vocals\s+registry/);
    const source = path.join(dir, 'choir.onnx');
    await writeTinyModel(source, 2, { 'stembot.sources': 'soprano,alto' });
    await models('add', source);
    const out = await models('list');
    expect(out).toMatch(/htdemucs_6s\s+no\s+-\s+drums,bass,other,vocals,guitar,piano/);
    expect(out).toMatch(/choir\s+yes\s+0\.0 MiB\s+soprano,alto\s+added/);
  });

  it('verify passes sound models and fails a damaged one with a UserError', async () => {
    const source = path.join(dir, 'choir.onnx');
    await writeTinyModel(source, 2, { 'stembot.sources': 'soprano,alto' });
    await models('add', source);
    expect(await models('verify')).toContain('choir: ok');

    await writeFile(path.join(modelsDir, 'choir.onnx'), 'garbage');
    const error = await rejectsWithUserError(models('verify', 'choir'));
    expect(error.code).toBe('model_verify_failed');
  });

  it('verify of a registry model that is not downloaded says how to fetch it', async () => {
    const error = await rejectsWithUserError(models('verify', 'htdemucs_ft'));
    expect(error.code).toBe('model_missing');
    expect(error.message).toContain('stembot models fetch htdemucs_ft');
  });

  it('fetch refuses unknown names and skips a model that is already there', async () => {
    expect((await rejectsWithUserError(models('fetch', 'spleeter'))).code).toBe('model_unknown');
    await mkdir(modelsDir, { recursive: true });
    await writeTinyModel(path.join(modelsDir, 'htdemucs.onnx'), 4);
    expect(await models('fetch', 'htdemucs')).toContain('already installed');
  });

  it('fetch takes a built-in model from MODEL_REGISTRY_URL when set, and checks it against that registry', async () => {
    const host = await ModelHost.start(Buffer.from(served));
    try {
      expect(await modelsWith({ registryUrl: host.registryUrl }, 'fetch', 'htdemucs')).toMatch(/^htdemucs installed at .*sha256 verified\)\.$/m);
      expect(await readFile(path.join(modelsDir, 'htdemucs.onnx'))).toEqual(Buffer.from(served));
      await rm(path.join(modelsDir, 'htdemucs.onnx'));
      host.mode = 'corrupt';
      expect((await rejectsWithUserError(modelsWith({ registryUrl: host.registryUrl }, 'fetch', 'htdemucs'))).code).toBe('model_checksum_mismatch');
    } finally {
      await host.close();
    }
  });
});
