import { describe, it } from 'vitest';
import { killMidPhase, useFaultSite } from './fault-site.js';

// One stage for the bot's kills and the servers' restarts: each case leaves every process running
// and every request settled, so the next starts as on a fresh stage, without paying for one.
const stage = useFaultSite();

describe('kill -9 the Discord bot process (relay, worker and bot in processes of their own; PostgreSQL and Redis)', () => {
  it.each(['download', 'separation', 'delivery'] as const)('mid-%s: the stems arrive once, charged once', (phase) => killMidPhase(stage, 'discord', phase));

  it('after Discord took the stems but before it answered: they are not posted again', async () => {
    const { handle, request } = await stage.separate();
    const answer = stage.fake.holdRequests(stage.delivering(handle), 'after');
    try {
      await answer.waitForHeld();
      await stage.kill('discord');
    } finally {
      answer.release();
    }
    await stage.start('discord');
    await stage.expectDeliveredOnce(handle, request);
    stage.expectAllAlive();
  });
});

describe('servers restarted under relay, worker and bot in processes of their own', () => {
  it.each([
    ['Redis (append-only file on)', () => stage.redis.restart()],
    ['PostgreSQL', () => stage.postgres.restart()],
  ])('%s, mid-separation: the stems arrive once, charged once', async (_server, restart) => {
    const { handle, request, attachmentId } = await stage.separate();
    await stage.waitForPhase('separation', request, attachmentId);
    await restart();
    await stage.expectDeliveredOnce(handle, request);
    stage.expectAllAlive();
  });
});
