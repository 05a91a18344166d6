import { describe, it } from 'vitest';
import { killMidPhase, useFaultSite } from './fault-site.js';

// One stage for the relay's kills and the worker's: each case leaves every process running and
// every request settled, so the next starts as on a fresh stage, without paying for one.
const stage = useFaultSite();

describe('kill -9 the relay process (relay, worker and bot in processes of their own; PostgreSQL and Redis)', () => {
  it.each(['download', 'separation', 'delivery'] as const)('mid-%s: the stems arrive once, charged once', (phase) => killMidPhase(stage, 'relay', phase));
});

describe('kill -9 the worker process (relay, worker and bot in processes of their own; PostgreSQL and Redis)', () => {
  it.each(['download', 'separation', 'delivery'] as const)('mid-%s: the stems arrive once, charged once', (phase) => killMidPhase(stage, 'worker', phase));
});
