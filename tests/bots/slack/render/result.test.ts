import { describe, expect, it } from 'vitest';
import { planAttachments } from '../../../../bots/chat/attachment-plan.js';
import { renderResult } from '../../../../bots/slack/render/result.js';

const MIB = 1024 * 1024;

describe('Slack result', () => {
  it('links the stems page for what is not uploaded, with the expiry as a Slack date', () => {
    const files = planAttachments([{ name: 'vocals.wav', path: '/tmp/v.wav', bytes: 100 * MIB }], { limitBytes: 50 * MIB, maxFiles: 9 });
    const payload = renderResult({ kind: 'result', title: '<!here> Song', requesterId: 'U1', files, link: { url: 'https://stembot.example/s/abc.def', expiresAt: new Date('2026-11-29T20:00:00Z') } });
    expect(JSON.stringify(payload.blocks)).toContain(
      '*&lt;!here&gt; Song* is separated.\\nGet them on the <https://stembot.example/s/abc.def|stems page> (a mixer and downloads; the link works until <!date^1795982400^{date_short_pretty} {time}|2026-11-29T20:00:00.000Z>).',
    );
  });

  it('without a link says why each stem was left out, as before', () => {
    const files = planAttachments([{ name: 'vocals.wav', path: '/tmp/v.wav', bytes: 100 * MIB }], { limitBytes: 50 * MIB, maxFiles: 9 });
    const payload = renderResult({ kind: 'result', title: 'Song', requesterId: 'U1', files });
    expect(JSON.stringify(payload.blocks)).toContain('is over the 50.0 MiB upload limit; ask again with format mp3 or opus, which fit.');
  });
});
