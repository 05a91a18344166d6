import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ChatSurface } from './chat-surface.js';
import type { MessageEdits } from './message-edits.js';
import type { RequestMessageView } from './message-view.js';

export type EditRequestMessage = (requestId: string, view: RequestMessageView) => Promise<void>;

/**
 * Shows a request's progress by its id alone: finds where its message is from core, shows the view
 * there, and stores the new place when showing it moved the message. Once the request has ended
 * the message is the outbox's (the result, or what went wrong) and is left alone. Edits take their
 * turn in `edits` with the outbox's posts.
 */
export function requestMessageEditor<Message extends PlatformMessage>(core: Pick<StembotCore, 'status' | 'rememberMessage'>, surface: ChatSurface<Message>, edits: MessageEdits): EditRequestMessage {
  return (requestId, view) =>
    edits.run(requestId, async () => {
      const status = await core.status(requestId);
      if (status.state !== 'queued' && status.state !== 'running') return;
      const message = surface.parse(status.platformMessage);
      if (!message) return;
      const shown = await surface.show(message, view);
      if (shown !== message) await core.rememberMessage(requestId, shown);
    });
}
