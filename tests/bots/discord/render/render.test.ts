import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { planAttachments, type DeliverableFile } from '../../../../bots/chat/attachment-plan.js';
import { refusalFor } from '../../../../bots/chat/failure-reference.js';
import type { ResultView } from '../../../../bots/chat/message-view.js';
import { UserError } from '../../../../core/errors.js';
import { renderPreview, renderProgress } from '../../../../bots/discord/render/progress.js';
import { renderRefusal } from '../../../../bots/discord/render/refusal.js';
import { renderResult } from '../../../../bots/discord/render/result.js';
import { renderStatus } from '../../../../bots/discord/render/status.js';
import { clusterWith, workerNamed } from '../../../support/cluster-status.js';
import { liveMarkup } from '../../../support/discord-markup.js';

const MIB = 1024 * 1024;
const silent = pino({ level: 'silent' });

/** A result planned the way the outbox plans it for Discord: 10 MiB a file, 10 files a message. */
const resultOf = (files: DeliverableFile[]): ResultView => ({ kind: 'result', title: 'Song', requesterId: 'u', files: planAttachments(files, { limitBytes: 10 * MIB, maxFiles: 10 }) });

describe('Discord renderers', () => {
  it('shows the stage, a bar, the ETA and a Cancel button', () => {
    const message = renderProgress({ kind: 'progress', requestId: '3f1c1c9e-0000-4000-8000-000000000000', title: 'Song', stage: 'separating', fraction: 0.5, etaSeconds: 75 });
    expect(message.content).toBe('**Song**\nSeparating ██████████░░░░░░░░░░ 50% · about 1 min 15 s left');
    expect(JSON.stringify(message.components)).toContain('cancel:3f1c1c9e-0000-4000-8000-000000000000');
    expect(renderProgress({ kind: 'progress', requestId: 'x', title: 'Song', stage: 'queued', fraction: 0, position: 2 }).content).toContain('Queued (2 ahead)');
  });

  it('says where the preview lies once it is out, and keeps the Cancel button beside its files', () => {
    const span = { startSeconds: 70.4, durationSeconds: 30 };
    const progress = renderProgress({ kind: 'progress', requestId: 'x', title: 'Song', stage: 'separating', fraction: 0.4, preview: span });
    expect(progress.content).toBe('**Song**\nPreview (1:10–1:40) posted; separating the whole song… ████████░░░░░░░░░░░░ 40%');
    expect(renderProgress({ kind: 'progress', requestId: 'x', title: 'Song', stage: 'rendering', fraction: 0.9, preview: span }).content).toContain('Preview (1:10–1:40) posted; preparing files ');
    expect(renderProgress({ kind: 'progress', requestId: 'x', title: 'Song', stage: 'previewing', fraction: 0.2 }).content).toContain('Separating a preview ');
    const files = [{ name: 'preview-vocals.mp3', path: '/tmp/v.mp3', bytes: 480_000 }];
    const preview = renderPreview({ kind: 'preview', requestId: 'r-1', title: 'Song', files, ...span });
    expect(preview.content).toBe('**Song**\nPreview (1:10–1:40) posted; separating the whole song…');
    expect(preview.files).toHaveLength(1);
    expect(JSON.stringify(preview.components)).toContain('cancel:r-1');
  });

  it('attaches what fits and names what does not, with what would', () => {
    const files = [
      { name: 'vocals.flac', path: '/tmp/v.flac', bytes: 30 * MIB },
      { name: 'drums.flac', path: '/tmp/d.flac', bytes: 5 * MIB },
    ];
    const message = renderResult(resultOf(files), { mention: false });
    expect(message.files).toHaveLength(1);
    expect(message.content).toBe("**Song** is separated: drums.flac.\n`vocals.flac` (30.0 MiB) is over this server's 10.0 MiB upload limit; ask again with format mp3 or opus, which fit.");
  });

  it('with a stems page: the waveform picture first, what fits attached, and the rest on the page until the link expires', () => {
    const files = [
      { name: 'vocals.wav', path: '/tmp/v.wav', bytes: 100 * MIB },
      { name: 'drums.wav', path: '/tmp/d.wav', bytes: 5 * MIB },
    ];
    const link = { url: 'https://stembot.example/s/eyJ2IjoxfQ.c2ln', expiresAt: new Date('2026-11-29T20:00:00Z') };
    const picture = { name: 'waveforms.png', path: '/tmp/w.png', bytes: 20_000 };
    const message = renderResult({ ...resultOf(files), link, picture }, { mention: false });
    expect(message.files?.map((file) => (file as { name?: string }).name)).toEqual(['waveforms.png', 'drums.wav']);
    expect(message.content).toBe(
      '**Song** is separated: drums.wav.\nGet `vocals.wav`, which is too big to attach here, on the [stems page](<https://stembot.example/s/eyJ2IjoxfQ.c2ln>) (a mixer and downloads; the link works until <t:1795982400:f>).',
    );
    const nothingFits = renderResult({ ...resultOf([files[0]!]), link, picture }, { mention: false });
    expect((nothingFits.content ?? '').split('\n')).toEqual(['**Song** is separated: the stems are on their page.', expect.stringMatching(/^Get them on the \[stems page\]/)]);
  });

  it('keeps to 10 attachments a message', () => {
    const files = Array.from({ length: 12 }, (_, i) => ({ name: `s${i}.mp3`, path: `/tmp/${i}`, bytes: MIB }));
    const message = renderResult(resultOf(files), { mention: false });
    expect(message.files).toHaveLength(10);
    expect(message.content).toContain('`s11.mp3` did not fit: a message holds at most 10 files.');
  });

  it('words refusals as the UserError says, and internal failures with a reference, always ephemeral', () => {
    expect(renderRefusal(refusalFor(new UserError('cooldown', 'Please wait 12 s before your next separation.'), silent, {}))).toMatchObject({ content: 'Please wait 12 s before your next separation.', flags: 64 });
    expect(renderRefusal({ kind: 'refusal', cause: { type: 'internal', reference: 'ab12' } }).content).toBe('Something broke on our side (ref ab12). Please try again in a few minutes.');
  });

  it('/status: the figures, then the workers in one code block, where a host name neither pings nor formats', () => {
    const hostile = '@everyone **x** <@&123> ```\n[claim](https://evil.example)';
    const message = renderStatus(clusterWith([workerNamed(hostile)]));
    expect(message.allowedMentions).toEqual({ parse: [] });
    const [head, block, tail] = message.content.split('```\n');
    expect(tail).toBeUndefined();
    expect(head).toBe(
      '**1 worker alive (1 ready), 1 separation running, 2 jobs waiting.**\nQueue: 2 waiting, 1 active\nLast hour: 3 started, median wait 1.5 s; 2 finished, median separation 42 s\n',
    );
    expect(liveMarkup(head ?? '')).toEqual([]);
    // The whole worker line stays inside the block: its backticks cannot close it, its line break cannot leave it.
    expect(block).toBe('@everyone **x** <@&123> `\u200b`\u200b`\u200b [claim](https://evil.example)  cpu  ready  htdemucs  ×1  seen 3 s ago\n```');
  });

  it('/status with no worker alive says so, with no empty code block', () => {
    const message = renderStatus(clusterWith([]));
    expect(message.content.split('\n')[0]).toBe('**No workers are alive: nothing will be separated until one starts.**');
    expect(message.content).not.toContain('```');
  });

  it('/status keeps to one 2000-character message, counting the workers that do not fit', () => {
    const workers = Array.from({ length: 60 }, (_, i) => workerNamed(`gpu-host-${String(i).padStart(2, '0')}-${'x'.repeat(20)}`));
    const { content } = renderStatus(clusterWith(workers));
    expect(content.length).toBeLessThanOrEqual(2000);
    const listed = content.split('\n').filter((line) => line.startsWith('gpu-host-')).length;
    expect(listed).toBeGreaterThan(10);
    expect(content.endsWith(`\n\`\`\`\n…and ${60 - listed} more workers.`)).toBe(true);
  });
});
