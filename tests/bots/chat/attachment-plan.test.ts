import { describe, expect, it } from 'vitest';
import { planAttachments } from '../../../bots/chat/attachment-plan.js';

const MIB = 1024 * 1024;
const file = (name: string, mib: number) => ({ name, path: `/stems/${name}`, bytes: mib * MIB });

describe('planAttachments', () => {
  it('attaches what fits under the per-file limit and says why each other file does not', () => {
    const plan = planAttachments([file('vocals.flac', 30), file('drums.flac', 5), file('bass.mp3', 12), file('other.opus', 10)], { limitBytes: 10 * MIB, maxFiles: 10 });
    expect(plan.attach.map((f) => f.name)).toEqual(['drums.flac', 'other.opus']);
    expect(plan.leftOut.map(({ file: f, reason }) => [f.name, reason])).toEqual([
      ['vocals.flac', 'too_big_lossless'],
      ['bass.mp3', 'too_big_lossy'],
    ]);
    expect(plan).toMatchObject({ limitBytes: 10 * MIB, maxFiles: 10 });
  });

  it('keeps to the files one message holds, in order, and names the rest', () => {
    const files = Array.from({ length: 6 }, (_, i) => file(`s${i}.mp3`, 1));
    const plan = planAttachments([file('big.wav', 50), ...files], { limitBytes: 10 * MIB, maxFiles: 4 });
    expect(plan.attach.map((f) => f.name)).toEqual(['s0.mp3', 's1.mp3', 's2.mp3', 's3.mp3']);
    expect(plan.leftOut.map(({ file: f, reason }) => `${f.name}:${reason}`)).toEqual(['big.wav:too_big_lossless', 's4.mp3:too_many_files', 's5.mp3:too_many_files']);
  });

  it('a file exactly at the limit fits; nothing at all is a plan with nothing left out', () => {
    expect(planAttachments([file('vocals.wav', 10)], { limitBytes: 10 * MIB, maxFiles: 10 }).attach).toHaveLength(1);
    expect(planAttachments([], { limitBytes: 1, maxFiles: 10 })).toEqual({ attach: [], leftOut: [], limitBytes: 1, maxFiles: 10 });
  });
});
