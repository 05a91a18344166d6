import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { pickAudioFile, slackFileSchema, startSlackRequest } from '../ask.js';
import type { SlackContext } from '../context.js';
import { answerFailure } from './answer-failure.js';

const fileShareSchema = z.object({
  team_id: z.string(),
  event: z.object({
    subtype: z.literal('file_share'),
    channel_type: z.literal('im'),
    user: z.string(),
    channel: z.string(),
    ts: z.string(),
    files: z.array(slackFileSchema),
  }),
});

/**
 * An audio file sent to the bot in a DM: separated, with the request's message in the file's
 * thread. Every other message event (the bot's own, edits, plain chat) is not for us.
 */
export async function directMessageFile({ body, client }: SlackEventMiddlewareArgs<'message'> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  const parsed = fileShareSchema.safeParse(body);
  if (!parsed.success) return;
  const { team_id: teamId, event } = parsed.data;
  const file = pickAudioFile(event.files);
  if (!file) return;
  try {
    await startSlackRequest(context, { teamId, channelId: event.channel, userId: event.user, threadTs: event.ts, file });
  } catch (error) {
    // A DM is private already: the refusal is a plain reply in the file's thread.
    await answerFailure(error, context, (text) => client.chat.postMessage({ channel: event.channel, thread_ts: event.ts, text }), { teamId, event: 'message.im' });
  }
}
