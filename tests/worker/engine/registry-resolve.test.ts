import { writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { readOnnxMetadataProps } from '../../../worker/engine/onnx-metadata-props.js';
import { resolveModel } from '../../../worker/engine/resolve-model.js';
import { writeTinyModel } from './onnx-fixture.js';
import { rejectsWithUserError } from '../../support/user-error.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'stembot-resolve-'));
});


describe('resolveModel', () => {
  it('names the fetch command when a registry model is not downloaded', async () => {
    const error = await rejectsWithUserError(resolveModel(dir, { name: 'htdemucs_6s' }));
    expect(error.code).toBe('model_missing');
    expect(error.message).toContain('stembot models fetch htdemucs_6s');
  });

  it('defaults to htdemucs', async () => {
    const error = await rejectsWithUserError(resolveModel(dir, {}));
    expect(error.message).toContain('stembot models fetch htdemucs');
  });

  it('resolves an installed registry model with its registry facts', async () => {
    await writeTinyModel(path.join(dir, 'htdemucs.onnx'), 4);
    await expect(resolveModel(dir, { name: 'htdemucs' })).resolves.toEqual({
      name: 'htdemucs',
      path: path.join(dir, 'htdemucs.onnx'),
      sources: ['drums', 'bass', 'other', 'vocals'],
      sampleRate: 44100,
      contract: 'waveform',
      segment: 343980,
    });
  });

  it('reads sources and rate from a model file given by path', async () => {
    const file = path.join(dir, 'choir.onnx');
    await writeTinyModel(file, 2, { 'stembot.sources': 'soprano, alto', 'stembot.sample_rate': '48000' });
    expect(await readOnnxMetadataProps(file)).toEqual({ 'stembot.sources': 'soprano, alto', 'stembot.sample_rate': '48000' });
    await expect(resolveModel(dir, { modelFile: file })).resolves.toEqual({ name: 'choir', path: file, sources: ['soprano', 'alto'], sampleRate: 48000 });
  });

  it('falls back to the htdemucs defaults (4 or 6 sources) without metadata', async () => {
    const six = path.join(dir, 'six.onnx');
    await writeTinyModel(six, 6);
    expect((await resolveModel(dir, { modelFile: six })).sources).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
  });

  it('refuses metadata that disagrees with the graph, unknown names, non-ONNX files and two choices at once', async () => {
    const file = path.join(dir, 'liar.onnx');
    await writeTinyModel(file, 4, { 'stembot.sources': 'a,b' });
    expect((await rejectsWithUserError(resolveModel(dir, { modelFile: file }))).code).toBe('model_metadata_invalid');
    expect((await rejectsWithUserError(resolveModel(dir, { name: 'nope' }))).code).toBe('model_unknown');
    const text = path.join(dir, 'text.onnx');
    await writeFile(text, 'definitely not protobuf');
    expect((await rejectsWithUserError(resolveModel(dir, { modelFile: text }))).code).toBe('model_not_onnx');
    expect((await rejectsWithUserError(resolveModel(dir, { modelFile: path.join(dir, 'absent.onnx') }))).code).toBe('model_missing');
    expect((await rejectsWithUserError(resolveModel(dir, { name: 'htdemucs', modelFile: file }))).code).toBe('model_ambiguous');
  });
});
