import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../../../bots/slack/render/status.js';
import { clusterWith, workerNamed } from '../../../support/cluster-status.js';

const cudaWorker = (id: string) => workerNamed(id, { device: 'cuda', models: ['htdemucs', 'htdemucs_6s'], concurrency: 2, heartbeatAgeSeconds: 4.4 });
const busy = (workers: ReturnType<typeof workerNamed>[]) =>
  clusterWith(workers, {
    jobs: { waiting: 0, prioritized: 1, delayed: 0, active: 2, completed: 0, failed: 0 },
    queueDepth: 1,
    running: 2,
    lastHour: { started: 0, medianWaitSeconds: undefined, finished: 0, medianSeparationSeconds: undefined },
  });

describe('Slack /stembot status', () => {
  it('puts the figures in mrkdwn and each worker in one code block, where a host name neither pings, links nor escapes', () => {
    const text = renderStatus(busy([cudaWorker('<!everyone> <@U1> *x* ```\n<https://evil.example|claim>')]));
    const [head, block, tail] = text.split('```');
    expect(head).toBe('*1 worker alive (1 ready), 2 separations running, 1 job waiting.*\nQueue: 1 waiting, 2 active\nLast hour: 0 started, median wait –; 0 finished, median separation –\n');
    expect(tail).toBe('');
    expect(block).toBe('&lt;!everyone&gt; &lt;@U1&gt; *x* ˋˋˋ &lt;https://evil.example|claim&gt;  cuda  ready  htdemucs, htdemucs_6s  ×2  seen 4 s ago');
  });

  it('keeps to Slack’s 4,000 characters, counting the workers left out', () => {
    const text = renderStatus(busy(Array.from({ length: 100 }, (_, i) => cudaWorker(`node-${i}-${'y'.repeat(40)}`))));
    expect(text.length).toBeLessThanOrEqual(4000);
    const listed = (text.match(/node-\d+-/g) ?? []).length;
    expect(listed).toBeGreaterThan(20);
    expect(text.endsWith(`\`\`\`\n…and ${100 - listed} more workers.`)).toBe(true);
  });
});
