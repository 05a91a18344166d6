import type { AllMiddlewareArgs, SlackShortcutMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { pickAudioFile, pickLink, slackFileSchema, startSlackRequest } from '../ask.js';
import type { SlackContext } from '../context.js';
import { answerFailure } from './answer-failure.js';

/** The message shortcut's callback_id, as the app manifest declares it. */
export const SEPARATE_SHORTCUT = 'separate_stems';

const shortcutSchema = z.object({
  type: z.literal('message_action'),
  team: z.object({ id: z.string(), domain: z.string().optional() }),
  channel: z.object({ id: z.string() }),
  user: z.object({ id: z.string() }),
  message: z.object({ ts: z.string(), thread_ts: z.string().optional(), text: z.string().optional(), files: z.array(slackFileSchema).optional() }),
});

/**
 * "Separate stems" on any message: its audio file if it has one (slash commands cannot carry
 * files), else its YouTube link. The request's message is a reply in that message's thread.
 */
export async function separateShortcut({ ack, shortcut, respond }: SlackShortcutMiddlewareArgs & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  await ack();
  const parsed = shortcutSchema.parse(shortcut);
  const { message } = parsed;
  const file = pickAudioFile(message.files);
  try {
    await startSlackRequest(context, {
      teamId: parsed.team.id,
      tenantName: parsed.team.domain,
      channelId: parsed.channel.id,
      userId: parsed.user.id,
      threadTs: message.thread_ts ?? message.ts,
      ...(file ? { file } : { link: pickLink(message.text ?? '') }),
    });
  } catch (error) {
    await answerFailure(error, context, (text) => respond({ response_type: 'ephemeral', text }), { teamId: parsed.team.id, shortcut: SEPARATE_SHORTCUT });
  }
}
