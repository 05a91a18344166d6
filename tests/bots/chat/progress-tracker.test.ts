import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProgressView } from '../../../bots/chat/message-view.js';
import { ProgressTracker } from '../../../bots/chat/progress-tracker.js';
import { RequestUpdates, type RequestUpdate } from '../../../core/request-updates.js';

const INTERVAL_MS = 1000;
const REQUEST = 'r-1';
const first: ProgressView = { kind: 'progress', requestId: REQUEST, title: 'Song', stage: 'queued', fraction: 0, position: 1 };
const progress = (fraction: number): RequestUpdate => ({ type: 'progress', requestId: REQUEST, progress: { stage: 'separating', fraction } });

describe('ProgressTracker', () => {
  let updates: RequestUpdates;
  let edits: { at: number; view: ProgressView }[];
  let editMs: number;
  let tracker: ProgressTracker;

  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
    updates = new RequestUpdates();
    edits = [];
    editMs = 0;
    const edit = async (_requestId: string, view: ProgressView) => {
      if (editMs > 0) await new Promise((resolve) => setTimeout(resolve, editMs));
      edits.push({ at: Date.now(), view });
    };
    tracker = new ProgressTracker({ core: updates, edit, minEditIntervalMs: INTERVAL_MS, logger: pino({ level: 'silent' }) });
    tracker.track(first);
  });

  afterEach(() => {
    tracker.stopAll();
    vi.useRealTimers();
  });

  it('waits the platform’s interval after the message was shown, then sends only the latest state', async () => {
    updates.publish(progress(0.1));
    updates.publish(progress(0.2));
    updates.publish(progress(0.3));
    await vi.advanceTimersByTimeAsync(INTERVAL_MS - 1);
    expect(edits).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(edits).toEqual([{ at: INTERVAL_MS, view: { ...first, stage: 'separating', fraction: 0.3, etaSeconds: undefined } }]);
  });

  it('counts the interval from the end of a slow edit, so two edits never arrive closer together', async () => {
    editMs = 700;
    updates.publish(progress(0.1));
    await vi.advanceTimersByTimeAsync(INTERVAL_MS + editMs);
    updates.publish(progress(0.5));
    await vi.advanceTimersByTimeAsync(5 * INTERVAL_MS);
    expect(edits.map((edit) => edit.at)).toEqual([INTERVAL_MS + editMs, 2 * (INTERVAL_MS + editMs)]);
    expect(edits.at(-1)?.view.fraction).toBe(0.5);
  });

  it('sends a state that changed during an edit once that edit is done', async () => {
    editMs = 300;
    updates.publish(progress(0.1));
    await vi.advanceTimersByTimeAsync(INTERVAL_MS + 100);
    updates.publish(progress(0.9));
    await vi.advanceTimersByTimeAsync(5 * INTERVAL_MS);
    expect(edits.map((edit) => edit.view.fraction)).toEqual([0.1, 0.9]);
  });

  it('leaves final states to the outbox: a pending edit is dropped once the request finishes', async () => {
    updates.publish(progress(0.4));
    updates.publish({ type: 'completed', requestId: REQUEST, files: [] });
    updates.publish(progress(0.6));
    await vi.advanceTimersByTimeAsync(5 * INTERVAL_MS);
    expect(edits).toEqual([]);
  });
});
