import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { refusalFor } from '../../../bots/chat/failure-reference.js';
import { UserError } from '../../../core/errors.js';

function recordingLogger() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino(stream), lines };
}

describe('refusalFor', () => {
  it('passes a UserError’s own words on, and logs nothing', () => {
    const { logger, lines } = recordingLogger();
    expect(refusalFor(new UserError('cooldown', 'Please wait 12 s.'), logger, {})).toEqual({ kind: 'refusal', cause: { type: 'user', code: 'cooldown', message: 'Please wait 12 s.' } });
    expect(lines).toEqual([]);
  });

  it('shows only a short reference for our failures, and logs the error under it with the context', () => {
    const { logger, lines } = recordingLogger();
    const refusal = refusalFor(new Error('connection refused: postgres://user:secret@db'), logger, { interactionId: 'i-1' });
    if (refusal.cause.type !== 'internal') throw new Error('expected an internal refusal');
    expect(refusal.cause.reference).toMatch(/^[0-9a-f]{8}$/);
    expect(JSON.stringify(refusal)).not.toContain('postgres');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reference: refusal.cause.reference, interactionId: 'i-1', msg: 'interaction failed' });
  });
});
