import { describe, it } from 'vitest';
import { killMidPhase, useFaultSite } from './fault-site.js';

const stage = useFaultSite();

describe('kill -9 the relay process (relay, worker and bot in processes of their own; PostgreSQL and Redis)', () => {
  it.each(['download', 'separation', 'delivery'] as const)('mid-%s: the stems arrive once, charged once', (phase) => killMidPhase(stage, 'relay', phase));
});
