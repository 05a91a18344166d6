import { describe, it } from 'vitest';
import { killMidPhase, useFaultSite } from './fault-site.js';

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
