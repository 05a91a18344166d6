import { describe, expect, it } from 'vitest';
import type { ChatSurface } from '../../../bots/chat/chat-surface.js';
import { requestMessageEditor } from '../../../bots/chat/edit-request-message.js';
import { MessageEdits } from '../../../bots/chat/message-edits.js';
import type { ProgressView, RequestMessageView } from '../../../bots/chat/message-view.js';
import type { PlatformMessage, RequestState } from '../../../core/db/entities/separation-request.js';
import type { RequestSummary } from '../../../core/requests/request-queries.js';

const deferred = (): { promise: Promise<void>; resolve: () => void } => {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('MessageEdits', () => {
  it('lets an edit in flight land before a later one of the same message starts, and never holds up another message', async () => {
    const edits = new MessageEdits();
    const order: string[] = [];
    const slow = deferred();
    const progress = edits.run('r-1', async () => {
      order.push('progress starts');
      await slow.promise;
      order.push('progress lands');
    });
    const result = edits.run('r-1', async () => {
      order.push('result');
      return 'shown';
    });
    await edits.run('r-2', async () => order.push('other message'));
    expect(order).toEqual(['progress starts', 'other message']);
    slow.resolve();
    expect(await result).toBe('shown');
    await progress;
    expect(order).toEqual(['progress starts', 'other message', 'progress lands', 'result']);
  });

  it('goes on after a failed edit, and hands the failure to its own caller only', async () => {
    const edits = new MessageEdits();
    const failed = edits.run('r-1', () => Promise.reject(new Error('rate limited')));
    const next = edits.run('r-1', async () => 'next');
    await expect(failed).rejects.toThrow('rate limited');
    expect(await next).toBe('next');
  });
});

describe('requestMessageEditor', () => {
  const view: ProgressView = { kind: 'progress', requestId: 'r-1', title: 'Song', stage: 'separating', fraction: 0.5 };

  function editorFor(state: RequestState): { edit: (requestId: string, view: ProgressView) => Promise<void>; shown: RequestMessageView[] } {
    const shown: RequestMessageView[] = [];
    const message = { platform: 'discord', channelId: 'c-1', messageId: 'm-1' } as unknown as PlatformMessage;
    const core = {
      status: async (requestId: string) => ({ requestId, state, platformMessage: message }) as unknown as RequestSummary,
      rememberMessage: async () => undefined,
    };
    const surface = {
      parse: (stored: PlatformMessage) => stored,
      show: async (at: PlatformMessage, shownView: RequestMessageView) => {
        shown.push(shownView);
        return at;
      },
    } as unknown as ChatSurface<PlatformMessage>;
    return { edit: requestMessageEditor(core, surface, new MessageEdits()), shown };
  }

  it('shows progress while the request is queued or running', async () => {
    for (const state of ['queued', 'running'] as const) {
      const { edit, shown } = editorFor(state);
      await edit('r-1', view);
      expect(shown).toEqual([view]);
    }
  });

  it('leaves the message alone once the request has ended: it holds the result or the failure', async () => {
    for (const state of ['completed', 'failed', 'cancelled'] as const) {
      const { edit, shown } = editorFor(state);
      await edit('r-1', view);
      expect(shown).toEqual([]);
    }
  });
});
