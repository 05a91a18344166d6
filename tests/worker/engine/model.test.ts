import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../core/errors.js';
import { loadModel } from '../../../worker/engine/model.js';
import { loadTestModel, silentLog } from '../../support/engine-harness.js';
import { writeModel } from '../../support/onnx-models.js';

const expectUserError = async (promise: Promise<unknown>, code: string): Promise<UserError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).code).toBe(code);
  return error as UserError;
};

describe('loadModel', () => {
  it('detects the waveform contract, segment, sources and a fixed batch', async () => {
    const model = await loadTestModel({ contract: 'waveform', kind: 'fractions', segment: 4096 });
    expect(model.contract).toMatchObject({ kind: 'waveform', segment: 4096, sources: 4, dynamicBatch: false });
    expect(model.sources).toEqual(['drums', 'bass', 'other', 'vocals']);
    expect(model.sampleRate).toBe(44_100);
    expect(model.provider).toBe('cpu');
  });

  it('detects the split contract whatever the output order, with a dynamic batch and 6 sources', async () => {
    const model = await loadTestModel({ contract: 'split', kind: 'fractions', segment: 8192, sources: 6, batch: 'batch', timeFirst: true });
    expect(model.contract).toMatchObject({ kind: 'split', segment: 8192, sources: 6, frames: 8, dynamicBatch: true, spectrogramOutput: 'freq', waveformOutput: 'time' });
    expect(model.sources).toEqual(['drums', 'bass', 'other', 'vocals', 'guitar', 'piano']);
  });

  it('reads sources and sample rate from metadata_props', async () => {
    const model = await loadTestModel({
      contract: 'waveform',
      kind: 'fractions',
      segment: 4096,
      sources: 2,
      metadata: { 'stembot.sources': 'vocals, accompaniment', 'stembot.sample_rate': '48000' },
    });
    expect(model.sources).toEqual(['vocals', 'accompaniment']);
    expect(model.sampleRate).toBe(48_000);
  });

  it('refuses wrong shapes with a clear UserError', async () => {
    const threeChannels = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, inputShapes: [[1, 3, 4096]] });
    const error = await expectUserError(loadModel(threeChannels, { device: 'cpu' }, silentLog), 'model_contract');
    expect(error.message).toContain('mix [1, 3, 4096]');
    const badSpec = await writeModel({ contract: 'split', kind: 'fractions', segment: 8192, inputShapes: [[1, 2, 8192], [1, 4, 2049, 8]] });
    await expectUserError(loadModel(badSpec, { device: 'cpu' }, silentLog), 'model_contract');
  });

  it('refuses a source count that disagrees with the names given', async () => {
    const path = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, metadata: { 'stembot.sources': 'a,b,c' } });
    await expectUserError(loadModel(path, { device: 'cpu' }, silentLog), 'model_contract');
    const unnamed = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, sources: 3 });
    await expectUserError(loadModel(unnamed, { device: 'cpu' }, silentLog), 'model_metadata');
  });

  it('refuses source names that are paths when it loads a model, whoever described it', async () => {
    const path = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096, metadata: { 'stembot.sources': 'drums,../../../tmp/x,other,vocals' } });
    const error = await expectUserError(loadModel(path, { device: 'cpu' }, silentLog), 'model_source_names');
    expect(error.message).toContain('names a source "../../../tmp/x"');
    const plain = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096 });
    await expectUserError(loadModel(plain, { device: 'cpu' }, silentLog, { sources: ['drums', 'bass', 'other', '/etc/x'], sampleRate: 44_100 }), 'model_source_names');
  });

  it('reports a corrupt or missing file as a UserError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stembot-corrupt-'));
    const path = join(dir, 'broken.onnx');
    await writeFile(path, Buffer.from('this is not a protobuf at all, just text'));
    const error = await expectUserError(loadModel(path, { device: 'auto' }, silentLog), 'model_corrupt');
    expect(error.message).toContain('broken.onnx');
    await expectUserError(loadModel(join(dir, 'absent.onnx'), { device: 'cpu' }, silentLog), 'model_not_found');
  });

  it('falls back to CPU for auto and shares one session per file', async () => {
    const path = await writeModel({ contract: 'waveform', kind: 'fractions', segment: 4096 });
    const a = await loadModel(path, { device: 'auto' }, silentLog);
    const b = await loadModel(path, { device: 'auto' }, silentLog);
    expect(['cpu', 'cuda']).toContain(a.provider);
    expect(b.session).toBe(a.session);
  });
});
