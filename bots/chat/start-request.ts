import type { PlatformMessage } from '../../core/db/entities/separation-request.js';
import type { SubmitInput } from '../../core/requests/submit.js';
import type { StembotCore } from '../../core/stembot-core.js';
import type { ChatSurface } from './chat-surface.js';
import type { ProgressView } from './message-view.js';
import type { ProgressTracker } from './progress-tracker.js';

/**
 * Submits an ask, shows its first progress view in `message`, stores where that is, and keeps it
 * current from then on. Refusals are core's UserErrors, thrown before anything is shown.
 */
export async function startRequest<Message extends PlatformMessage>(
  deps: { core: Pick<StembotCore, 'submit' | 'rememberMessage'>; surface: ChatSurface<Message>; progress: ProgressTracker },
  input: SubmitInput,
  message: Message,
): Promise<void> {
  const outcome = await deps.core.submit(input);
  const view: ProgressView = { kind: 'progress', requestId: outcome.requestId, title: outcome.title, stage: 'queued', fraction: 0, position: outcome.position };
  // Through the request's own message queue, so a fast result is never overwritten by this first edit.
  const shown = await deps.surface.show(message, view);
  await deps.core.rememberMessage(outcome.requestId, shown);
  deps.progress.track(view);
}
