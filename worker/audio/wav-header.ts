/**
 * The RIFF/WAVE header of a stereo PCM stem, laid out as ffmpeg's wav muxer lays out the same
 * codec (less its LIST/INFO encoder tag), so a stem reads the same as when ffmpeg wrote it:
 * - 16-bit at up to 48 kHz: the plain 16-byte `fmt ` chunk, format 1 (PCM).
 * - 24-bit, 32-bit float, or a higher rate: WAVE_FORMAT_EXTENSIBLE with a front-left/right channel
 *   mask, which Microsoft asks for past 16 bits and ffmpeg writes (`ff_put_wav_header`).
 * - float: format 3 (IEEE float) and a `fact` chunk with the frame count, as ffmpeg adds for
 *   every non-PCM format.
 *
 * Written by hand rather than with a library: the encoder streams a file of unknown length and
 * patches the sizes at the end, while wav libraries (`wavefile`, `node-wav`) build whole files in
 * memory.
 */

export interface WavLayout {
  sampleRate: number;
  /** 16 and 24 are signed integers, 32 is IEEE float. */
  bitDepth: 16 | 24 | 32;
}

const CHANNELS = 2;
const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const SPEAKER_FRONT_LEFT_RIGHT = 0x3;
/** The KSDATAFORMAT_SUBTYPE GUID after its first field, which is the format tag itself. */
const SUBFORMAT_GUID_TAIL = Buffer.from('00001000800000aa00389b71', 'hex');
/** Largest value of RIFF's 32-bit size fields. */
const RIFF_SIZE_MAX = 0xffff_ffff;

export function wavFrameBytes(layout: WavLayout): number {
  return (CHANNELS * layout.bitDepth) / 8;
}

function isExtensible(layout: WavLayout): boolean {
  return layout.bitDepth > 16 || layout.sampleRate > 48000;
}

export function wavHeaderBytes(layout: WavLayout): number {
  const fmt = 8 + (isExtensible(layout) ? 40 : 16);
  const fact = layout.bitDepth === 32 ? 12 : 0;
  return 12 + fmt + fact + 8;
}

/**
 * The most sample bytes a plain RIFF file can hold in whole frames: its size field counts the file
 * less 8 bytes in 32 bits (about 6.7 h of 16-bit stereo at 44.1 kHz, 3.4 h of float). Past it a
 * writer needs RF64, which stembot does not write (nor ffmpeg, unless asked with `-rf64`).
 */
export function maxWavDataBytes(layout: WavLayout): number {
  const room = RIFF_SIZE_MAX - (wavHeaderBytes(layout) - 8);
  return room - (room % wavFrameBytes(layout));
}

/** The header for `dataBytes` of interleaved samples that follow it. */
export function wavHeader(layout: WavLayout, dataBytes: number): Buffer {
  const frameBytes = wavFrameBytes(layout);
  if (!Number.isInteger(dataBytes / frameBytes) || dataBytes < 0 || dataBytes > maxWavDataBytes(layout)) {
    throw new RangeError(`${dataBytes} bytes are not whole frames that fit in a RIFF file`);
  }
  const formatTag = layout.bitDepth === 32 ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM;
  const extensible = isExtensible(layout);
  const header = Buffer.alloc(wavHeaderBytes(layout));
  let at = 0;
  const tag = (id: string): void => {
    at += header.write(id, at, 'latin1');
  };
  const u16 = (value: number): void => {
    at = header.writeUInt16LE(value, at);
  };
  const u32 = (value: number): void => {
    at = header.writeUInt32LE(value, at);
  };

  tag('RIFF');
  u32(header.length - 8 + dataBytes);
  tag('WAVE');
  tag('fmt ');
  u32(extensible ? 40 : 16);
  u16(extensible ? WAVE_FORMAT_EXTENSIBLE : formatTag);
  u16(CHANNELS);
  u32(layout.sampleRate);
  u32(layout.sampleRate * frameBytes);
  u16(frameBytes);
  u16(layout.bitDepth);
  if (extensible) {
    u16(22); // cbSize: the extension's bytes that follow
    u16(layout.bitDepth); // valid bits per sample
    u32(SPEAKER_FRONT_LEFT_RIGHT);
    u32(formatTag);
    at += SUBFORMAT_GUID_TAIL.copy(header, at);
  }
  if (layout.bitDepth === 32) {
    tag('fact');
    u32(4);
    u32(dataBytes / frameBytes);
  }
  tag('data');
  u32(dataBytes);
  return header;
}
