// @ts-check
/* global document, window, location, navigator, fetch, performance, requestAnimationFrame, getComputedStyle, URL, XMLHttpRequest, AudioContext, OfflineAudioContext */
/**
 * The stems page's script: reads data.json, draws one row per stem (waveform, mute, solo,
 * volume, download) and mixes the stems with Web Audio. No framework: a handful of elements
 * and one audio graph do not earn one.
 *
 * Playback decodes every stem whole (fetch + decodeAudioData) and starts one
 * AudioBufferSourceNode per stem at the same AudioContext time: the stems stay sample-aligned
 * however long they play and whatever the user seeks, which separate <audio> elements (each
 * buffering and seeking on its own) cannot promise. The price is memory and a wait before the
 * first sound: a decoded stem is 32-bit float, 44100 × 2 × 4 = 353 KB a second, so a 10-minute
 * track's four stems hold about 850 MB, and play starts once all four are downloaded and decoded.
 *
 * Text from the request (the title above all) only ever goes in with textContent.
 */

/** @typedef {{ stem: string, name: string, bytes: number, url: string, downloadUrl: string }} StemFile */
/** @typedef {{ title: string | null, durationSeconds: number | null, model: string, expiresAt: string, files: StemFile[], zipUrl: string, peaks: Record<string, unknown> }} PageData */
/** @typedef {{ min: Float32Array, max: Float32Array }} Peaks */
/** @typedef {{ file: StemFile, row: HTMLElement, canvas: HTMLCanvasElement, mute: HTMLButtonElement, solo: HTMLButtonElement, peaks: Peaks | null }} StemRow */

/** Bins a waveform is computed in when the worker stored none: more than a wide screen's pixels. */
const COMPUTED_BINS = 2048;
/** A sample of ±1.0 in stored peaks (int8 without -128). */
const PEAK_FULL_SCALE = 127;
/** The most a waveform is magnified to fill its row. */
const MAX_WAVE_GAIN = 8;
/** Sources start this far ahead, so all of them are scheduled before the first one plays. */
const START_AHEAD_S = 0.03;

/** @param {string} id */
function element(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page lacks #${id}`);
  return found;
}

/** @param {number} seconds */
function clockTime(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  return `${minutes}:${String(whole % 60).padStart(2, '0')}`;
}

/** @param {number} bytes */
function size(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

/**
 * Stored peaks as the worker writes them: `{ min: [...], max: [...] }`, one pair of integers per
 * bin in -127..127 (full scale 127). Anything else draws nothing until the audio is decoded.
 * @param {unknown} value
 * @returns {Peaks | null}
 */
function storedPeaks(value) {
  if (value === null || typeof value !== 'object') return null;
  const { min, max } = /** @type {{ min?: unknown, max?: unknown }} */ (value);
  const levels = (/** @type {unknown} */ list) => (Array.isArray(list) && list.length > 0 && list.every((n) => typeof n === 'number' && Number.isFinite(n)) ? /** @type {number[]} */ (list) : null);
  const mins = levels(min);
  const maxes = levels(max);
  if (!mins || !maxes || mins.length !== maxes.length) return null;
  return { min: Float32Array.from(mins, (n) => n / PEAK_FULL_SCALE), max: Float32Array.from(maxes, (n) => n / PEAK_FULL_SCALE) };
}

/** @param {AudioBuffer} buffer @returns {Peaks} */
function computedPeaks(buffer) {
  const bins = Math.min(COMPUTED_BINS, buffer.length);
  const peaks = { min: new Float32Array(bins).fill(1), max: new Float32Array(bins).fill(-1) };
  for (let channel = 0; channel < buffer.numberOfChannels; channel += 1) {
    const samples = buffer.getChannelData(channel);
    for (let bin = 0; bin < bins; bin += 1) {
      const end = Math.floor(((bin + 1) * samples.length) / bins);
      let low = /** @type {number} */ (peaks.min[bin]);
      let high = /** @type {number} */ (peaks.max[bin]);
      for (let i = Math.floor((bin * samples.length) / bins); i < end; i += 1) {
        const sample = /** @type {number} */ (samples[i]);
        if (sample < low) low = sample;
        if (sample > high) high = sample;
      }
      peaks.min[bin] = low;
      peaks.max[bin] = high;
    }
  }
  return peaks;
}

/** The largest magnitude in a set of peaks. @param {Peaks | null} peaks */
function loudness(peaks) {
  if (!peaks) return 0;
  let loudest = 0;
  for (let bin = 0; bin < peaks.min.length; bin += 1) loudest = Math.max(loudest, Math.abs(/** @type {number} */ (peaks.min[bin])), Math.abs(/** @type {number} */ (peaks.max[bin])));
  return loudest;
}

/**
 * A waveform, or a flat line while there are no peaks. `gain` is the same for every stem, so
 * the loudest fills its row and the others keep their size relative to it.
 * @param {HTMLCanvasElement} canvas @param {Peaks | null} peaks @param {number} gain
 */
function drawWave(canvas, peaks, gain) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) return;
  context.fillStyle = getComputedStyle(canvas).color;
  const middle = height / 2;
  if (!peaks || peaks.min.length === 0) {
    context.fillRect(0, Math.floor(middle), width, Math.max(1, Math.round(ratio)));
    return;
  }
  const bins = peaks.min.length;
  for (let x = 0; x < width; x += 1) {
    const from = Math.floor((x * bins) / width);
    const to = Math.max(from + 1, Math.floor(((x + 1) * bins) / width));
    let low = 1;
    let high = -1;
    for (let bin = from; bin < to && bin < bins; bin += 1) {
      low = Math.min(low, /** @type {number} */ (peaks.min[bin]));
      high = Math.max(high, /** @type {number} */ (peaks.max[bin]));
    }
    const top = middle - Math.min(1, Math.max(-1, high * gain)) * middle;
    const bottom = middle - Math.min(1, Math.max(-1, low * gain)) * middle;
    context.fillRect(x, top, 1, Math.max(1, bottom - top));
  }
}

/**
 * Downloads a file, reporting bytes as they arrive. XMLHttpRequest rather than fetch: it reports
 * progress and hands over the body only once the request is complete, where a fetch body read to
 * its last byte can still be cancelled (and shown as failed) before the response has finished.
 * @param {string} url @param {(bytes: number) => void} onBytes @returns {Promise<ArrayBuffer>}
 */
function download(url, onBytes) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    let reported = 0;
    request.open('GET', url);
    request.responseType = 'arraybuffer';
    request.onprogress = (event) => {
      onBytes(event.loaded - reported);
      reported = event.loaded;
    };
    request.onload = () => {
      if (request.status !== 200) return reject(new Error(`could not download a stem (${request.status})`));
      const body = /** @type {ArrayBuffer} */ (request.response);
      onBytes(body.byteLength - reported);
      resolve(body);
    };
    request.onerror = () => reject(new Error('could not download a stem (network error)'));
    request.send();
  });
}

/** Plays the decoded stems in sync, each through its own gain, into one analysed master. */
class Mixer {
  /** @param {AudioBuffer[]} buffers */
  constructor(buffers) {
    this.buffers = buffers;
    this.duration = Math.max(...buffers.map((buffer) => buffer.duration));
    /** @type {{ volume: number, muted: boolean, solo: boolean }[]} */
    this.mix = buffers.map(() => ({ volume: 1, muted: false, solo: false }));
    /** @type {AudioBufferSourceNode[]} */
    this.sources = [];
    this.offset = 0;
    this.startedAt = 0;
    this.playing = false;
    /** Bumped at every stop, so a source that ends because it was stopped does not end the song. */
    this.generation = 0;
    /** @type {AudioContext | null} */
    this.context = null;
    /** @type {AnalyserNode | null} */
    this.analyser = null;
    /** @type {GainNode[]} */
    this.gains = [];
    /** @type {() => void} */
    this.onEnded = () => {};
  }

  /**
   * The output side of the graph, made on the first tap: a context made inside a user gesture
   * starts running (iOS Safari will not play one made earlier until it is resumed in one).
   */
  graph() {
    if (this.context) return this.context;
    const audioSession = /** @type {{ audioSession?: { type: string } }} */ (/** @type {unknown} */ (navigator)).audioSession;
    // iOS mutes Web Audio with the ring/silent switch unless the page says it is playing media.
    if (audioSession) audioSession.type = 'playback';
    let context;
    try {
      context = new AudioContext({ sampleRate: /** @type {AudioBuffer} */ (this.buffers[0]).sampleRate });
    } catch {
      context = new AudioContext();
    }
    this.context = context;
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 2048;
    this.analyser.connect(context.destination);
    this.gains = this.buffers.map(() => {
      const gain = context.createGain();
      gain.connect(/** @type {AnalyserNode} */ (this.analyser));
      return gain;
    });
    this.applyMix();
    return context;
  }

  position() {
    if (!this.playing || !this.context) return this.offset;
    return Math.min(this.duration, Math.max(0, this.context.currentTime - this.startedAt));
  }

  /** Must run inside the tap's handler, before any await: that is what lets iOS start audio. */
  play() {
    const context = this.graph();
    void context.resume();
    if (this.playing) return;
    if (this.offset >= this.duration) this.offset = 0;
    const when = context.currentTime + START_AHEAD_S;
    const generation = this.generation;
    this.sources = this.buffers.map((buffer, index) => {
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(/** @type {GainNode} */ (this.gains[index]));
      source.start(when, Math.min(this.offset, buffer.duration));
      return source;
    });
    const longest = this.buffers.findIndex((buffer) => buffer.duration === this.duration);
    /** @type {AudioBufferSourceNode} */ (this.sources[longest]).onended = () => {
      if (generation !== this.generation) return;
      this.stop(0);
      this.onEnded();
    };
    this.startedAt = when - this.offset;
    this.playing = true;
    performance.mark('stembot:play');
  }

  pause() {
    this.stop(this.position());
  }

  /** @param {number} seconds */
  seek(seconds) {
    const playing = this.playing;
    this.stop(Math.min(this.duration, Math.max(0, seconds)));
    if (playing) this.play();
  }

  /** @param {number} offset */
  stop(offset) {
    this.generation += 1;
    for (const source of this.sources) {
      source.onended = null;
      source.stop();
      source.disconnect();
    }
    this.sources = [];
    this.playing = false;
    this.offset = offset;
  }

  /** A stem is heard when it is not muted and, if any stem is soloed, it is one of them. */
  applyMix() {
    const context = this.context;
    if (!context) return;
    const soloing = this.mix.some((stem) => stem.solo);
    this.mix.forEach((stem, index) => {
      const audible = !stem.muted && (!soloing || stem.solo);
      // A few milliseconds' glide instead of a jump: no click.
      /** @type {GainNode} */ (this.gains[index]).gain.setTargetAtTime(audible ? stem.volume : 0, context.currentTime, 0.005);
    });
  }
}

/** @param {StemFile} file @param {Peaks | null} peaks @param {string} dataUrl @returns {StemRow} */
function stemRow(file, peaks, dataUrl) {
  const template = /** @type {HTMLTemplateElement} */ (element('stem-row'));
  const row = /** @type {HTMLElement} */ (/** @type {Element} */ (template.content.firstElementChild).cloneNode(true));
  const find = (/** @type {string} */ selector) => {
    const found = row.querySelector(selector);
    if (!found) throw new Error(`a stem row lacks ${selector}`);
    return found;
  };
  find('.name').textContent = file.stem;
  const link = /** @type {HTMLAnchorElement} */ (find('.download'));
  link.href = new URL(file.downloadUrl, dataUrl).href;
  link.download = file.name;
  link.title = `${file.name}, ${size(file.bytes)}`;
  link.setAttribute('aria-label', `Download ${file.stem} (${size(file.bytes)})`);
  find('.mute').setAttribute('aria-label', `Mute ${file.stem}`);
  find('.solo').setAttribute('aria-label', `Solo ${file.stem}`);
  find('.volume').setAttribute('aria-label', `${file.stem} volume`);
  return {
    file,
    row,
    canvas: /** @type {HTMLCanvasElement} */ (find('canvas')),
    mute: /** @type {HTMLButtonElement} */ (find('.mute')),
    solo: /** @type {HTMLButtonElement} */ (find('.solo')),
    peaks,
  };
}

/** @param {PageData} data */
function showFacts(data) {
  const title = data.title ?? 'Untitled';
  element('title').textContent = title;
  document.title = `${title} · stems`;
  const facts = [data.durationSeconds === null ? null : clockTime(data.durationSeconds), `model ${data.model}`, `${data.files.length} stems`];
  element('facts').textContent = facts.filter((fact) => fact !== null).join(' · ');
  element('expiry').textContent = `This link works until ${new Date(data.expiresAt).toLocaleString()}.`;
}

/** @param {Mixer} mixer @param {StemRow[]} rows */
function wireControls(mixer, rows) {
  const play = /** @type {HTMLButtonElement} */ (element('play'));
  const seek = /** @type {HTMLInputElement} */ (element('seek'));
  const clock = element('clock');
  const stems = element('stems');
  let dragging = false;
  const show = () => {
    const at = dragging ? Number(seek.value) : mixer.position();
    if (!dragging) seek.value = String(at);
    clock.textContent = `${clockTime(at)} / ${clockTime(mixer.duration)}`;
    stems.style.setProperty('--progress', String(mixer.duration > 0 ? at / mixer.duration : 0));
    play.textContent = mixer.playing ? 'Pause' : 'Play';
    play.setAttribute('aria-pressed', String(mixer.playing));
  };
  const tick = () => {
    show();
    if (mixer.playing) requestAnimationFrame(tick);
  };
  mixer.onEnded = show;
  seek.max = String(mixer.duration);
  seek.disabled = false;
  play.disabled = false;
  play.addEventListener('click', () => {
    if (mixer.playing) mixer.pause();
    else mixer.play();
    tick();
  });
  seek.addEventListener('input', () => {
    dragging = true;
    show();
  });
  seek.addEventListener('change', () => {
    dragging = false;
    mixer.seek(Number(seek.value));
    tick();
  });
  rows.forEach((stem, index) => {
    const mix = /** @type {{ volume: number, muted: boolean, solo: boolean }} */ (mixer.mix[index]);
    const toggle = (/** @type {HTMLButtonElement} */ button, /** @type {'muted' | 'solo'} */ key) => {
      button.addEventListener('click', () => {
        mix[key] = !mix[key];
        button.setAttribute('aria-pressed', String(mix[key]));
        mixer.applyMix();
      });
    };
    toggle(stem.mute, 'muted');
    toggle(stem.solo, 'solo');
    const volume = /** @type {HTMLInputElement} */ (stem.row.querySelector('.volume'));
    volume.addEventListener('input', () => {
      mix.volume = Number(volume.value);
      mixer.applyMix();
    });
    stem.canvas.addEventListener('click', (event) => {
      const box = stem.canvas.getBoundingClientRect();
      mixer.seek(((event.clientX - box.left) / box.width) * mixer.duration);
      tick();
    });
  });
  show();
}

async function main() {
  const dataUrl = new URL(`${location.pathname.replace(/\/+$/, '')}/data.json`, location.href).href;
  const status = element('status');
  const response = await fetch(dataUrl, { credentials: 'same-origin', cache: 'no-store' });
  if (!response.ok) throw new Error(response.status === 410 ? 'This link has expired. Ask the bot again for a new link.' : 'These stems are not available any more.');
  /** @type {PageData} */
  const data = await response.json();
  performance.mark('stembot:data');
  showFacts(data);

  const rows = data.files.map((file) => stemRow(file, storedPeaks(data.peaks[file.stem]), dataUrl));
  element('stems').replaceChildren(...rows.map((stem) => stem.row));
  const redraw = () => {
    const loudest = Math.max(...rows.map((stem) => loudness(stem.peaks)));
    // Quiet tracks are drawn larger, but a near-silent one is not blown up into its noise.
    const gain = loudest > 0 ? Math.min(1 / loudest, MAX_WAVE_GAIN) : 1;
    rows.forEach((stem) => drawWave(stem.canvas, stem.peaks, gain));
  };
  redraw();
  window.addEventListener('resize', redraw);
  const zip = /** @type {HTMLAnchorElement} */ (element('zip'));
  zip.href = new URL(data.zipUrl, dataUrl).href;
  zip.hidden = false;

  const total = data.files.reduce((sum, file) => sum + file.bytes, 0);
  let received = 0;
  status.textContent = 'Loading the stems…';
  // Decoding needs no output: an offline context decodes now, and the one that plays is made on the first tap.
  const decoder = new OfflineAudioContext(2, 1, 44100);
  const buffers = await Promise.all(
    rows.map(async (stem) => {
      const encoded = await download(new URL(stem.file.url, dataUrl).href, (bytes) => {
        received += bytes;
        status.textContent = `Loading the stems… ${Math.min(99, Math.floor((100 * received) / Math.max(1, total)))} %`;
      });
      const buffer = await decoder.decodeAudioData(encoded);
      if (!stem.peaks) {
        stem.peaks = computedPeaks(buffer);
        redraw();
      }
      return buffer;
    }),
  );
  const mixer = new Mixer(buffers);
  // For the browser test and for anyone debugging a mix in the console.
  Object.assign(window, { stembotMixer: mixer });
  wireControls(mixer, rows);
  status.textContent = '';
  performance.mark('stembot:ready');
}

main().catch((/** @type {unknown} */ error) => {
  element('status').textContent = error instanceof Error ? error.message : 'Something went wrong.';
});
