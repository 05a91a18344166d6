import { describe, expect, it } from 'vitest';
import { runScript } from '../../support/cli.js';

/** Runs the crash script in `mode` to its end; returns its exit and its JSON log lines. */
async function crash(mode: string): Promise<{ code: number | null; lines: { level: number; msg: string; err?: { message: string } }[] }> {
  const run = runScript('./crash-process.ts', [mode], {});
  const { code } = await run.exited;
  const lines = run
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string; err?: { message: string } });
  return { code, lines };
}

const FATAL = 60;

describe('a crash in `stembot start`', () => {
  it.each([
    ['an uncaught exception', 'throw', 'boom from a timer'],
    ['an unhandled rejection', 'reject', 'boom from a promise'],
  ])('%s is logged once at fatal, shuts down as SIGTERM does, and exits non-zero', async (_name, mode, message) => {
    const { code, lines } = await crash(mode);
    expect(code).toBe(1);
    const fatal = lines.filter((line) => line.level === FATAL);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.err?.message).toBe(message);
    expect(lines.map((line) => line.msg)).toEqual(['unexpected error; shutting down', 'test shutdown ran']);
  });

  it('a second error while shutting down is logged, not fatal again, and does not stop twice', async () => {
    const { code, lines } = await crash('twice');
    expect(code).toBe(1);
    expect(lines.filter((line) => line.level === FATAL)).toHaveLength(1);
    expect(lines.map((line) => line.msg)).toEqual(['unexpected error; shutting down', 'test shutdown ran', 'another unexpected error while shutting down']);
  });

  it('a shutdown that hangs is cut short by the deadline, still exiting non-zero', async () => {
    const { code, lines } = await crash('hang');
    expect(code).toBe(1);
    // The deadline's own warning is written as the process exits, which pino's asynchronous stdout
    // does not promise to finish; that the process ended at all is the deadline's doing.
    expect(lines.slice(0, 2).map((line) => line.msg)).toEqual(['unexpected error; shutting down', 'test shutdown ran']);
  });
});
