import { describe, it } from 'vitest';
import { useFaultSite } from './fault-site.js';

const stage = useFaultSite();

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
