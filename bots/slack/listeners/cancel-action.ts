import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { SlackContext } from '../context.js';
import { isWorkspaceAdmin } from '../guards/workspace-admin.js';
import { renderCancelled } from '../render/result.js';
import { answerFailure } from './answer-failure.js';

const cancelSchema = z.object({
  user: z.object({ id: z.string() }),
  team: z.object({ id: z.string() }),
  actions: z.array(z.object({ value: z.string().uuid() })).length(1),
});

/** The Cancel button on a request's message: the requester, or an admin of the workspace it was asked in. */
export async function cancelAction({ ack, body, client, respond }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  await ack();
  const parsed = cancelSchema.parse(body);
  const userId = parsed.user.id;
  const requestId = parsed.actions[0]?.value ?? '';
  try {
    await context.core.cancel(requestId, { userId, isAdmin: await isWorkspaceAdmin(client, userId), tenant: { platform: 'slack', externalId: parsed.team.id } });
    context.progress.untrack(requestId);
    // Through the request's own queue, so a progress edit already on its way cannot land after this.
    const message = context.messages.parse((await context.core.status(requestId)).platformMessage);
    if (message) await context.messages.replace(message, renderCancelled(userId));
  } catch (error) {
    await answerFailure(error, context, (text) => respond({ response_type: 'ephemeral', replace_original: false, text }), { requestId, action: 'cancel' });
  }
}
