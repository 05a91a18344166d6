import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ChatSurface } from './chat-surface.js';
import type { RequestMessageView } from './message-view.js';

export type EditRequestMessage = (requestId: string, view: RequestMessageView) => Promise<void>;

/**
 * Edits a request's message by its id alone: finds where it is shown from core, shows the view
 * there, and stores the new place when showing it moved the message.
 */
export function requestMessageEditor<Message extends PlatformMessage>(core: Pick<StembotCore, 'status' | 'rememberMessage'>, surface: ChatSurface<Message>): EditRequestMessage {
  return async (requestId, view) => {
    const status = await core.status(requestId);
    const message = surface.parse(status.platformMessage);
    if (!message) return;
    const shown = await surface.show(message, view);
    if (shown !== message) await core.rememberMessage(requestId, shown);
  };
}
