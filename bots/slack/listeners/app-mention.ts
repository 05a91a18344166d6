import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { parseSeparateText, pickAudioFile, slackFileSchema, startSlackRequest } from '../ask.js';
import type { SlackContext } from '../context.js';
import { answerFailure } from './answer-failure.js';

const mentionSchema = z.object({
  team_id: z.string(),
  event: z.object({ user: z.string(), channel: z.string(), ts: z.string(), thread_ts: z.string().optional(), text: z.string(), files: z.array(slackFileSchema).optional() }),
});

/** `@stembot <link> [stems] [format] [preview:false]` (or a mention on an audio file): the request's message goes into the mention's thread. */
export async function appMention({ body, client }: SlackEventMiddlewareArgs<'app_mention'> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  const { team_id: teamId, event } = mentionSchema.parse(body);
  const threadTs = event.thread_ts ?? event.ts;
  try {
    const file = pickAudioFile(event.files);
    const words = parseSeparateText(event.text);
    await startSlackRequest(context, { teamId, channelId: event.channel, userId: event.user, threadTs, ...words, ...(file ? { file, link: undefined } : {}) });
  } catch (error) {
    await answerFailure(error, context, (text) => client.chat.postEphemeral({ channel: event.channel, user: event.user, thread_ts: threadTs, text }), { teamId, event: 'app_mention' });
  }
}
