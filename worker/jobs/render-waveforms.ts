import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WAVEFORM_PEAKS, WAVEFORM_PICTURE } from '../../core/render-files.js';
import type { Storage } from '../../core/storage.js';
import { peaksToJson, type Peaks } from '../audio/waveform-peaks.js';
import { renderWaveformPng } from '../audio/waveform-png.js';


/**
 * Stores the waveforms of a render's files: `peaks.json` (peaks by stem name, the stems page's
 * format) and `waveforms.png` (one labelled lane per stem, for the chat message).
 */
export async function storeWaveforms(options: { storage: Storage; folder: string; tempDir: string; lanes: { name: string; peaks: Peaks }[] }): Promise<void> {
  const lanes = options.lanes.map(({ name, peaks }) => ({ name, peaks: peaksToJson(peaks) }));
  const staged = path.join(options.tempDir, `waveforms-${process.hrtime.bigint()}`);
  await writeFile(`${staged}.json`, JSON.stringify(Object.fromEntries(lanes.map((lane) => [lane.name, lane.peaks]))));
  await options.storage.putFile(`${options.folder}/${WAVEFORM_PEAKS}`, `${staged}.json`, 'application/json');
  await writeFile(`${staged}.png`, await renderWaveformPng(lanes));
  await options.storage.putFile(`${options.folder}/${WAVEFORM_PICTURE}`, `${staged}.png`, 'image/png');
}
