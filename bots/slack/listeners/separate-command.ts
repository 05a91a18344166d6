import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { parseSeparateText, startSlackRequest } from '../ask.js';
import type { SlackContext } from '../context.js';
import { answerFailure } from './answer-failure.js';

const commandSchema = z.object({ team_id: z.string(), team_domain: z.string().optional(), channel_id: z.string(), user_id: z.string(), text: z.string() });

/**
 * `/separate <YouTube link> [stems] [format] [preview:false]`. Acked at once (looking at a video can take longer
 * than Slack's 3 s), then the request's message is posted in the channel and updated in place.
 * Slash commands cannot carry files: those come through the message shortcut.
 */
export async function separateCommand({ ack, command, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  await ack();
  const { team_id: teamId, team_domain: tenantName, channel_id: channelId, user_id: userId, text } = commandSchema.parse(command);
  try {
    await startSlackRequest(context, { teamId, tenantName, channelId, userId, ...parseSeparateText(text) });
  } catch (error) {
    await answerFailure(error, context, (message) => respond({ response_type: 'ephemeral', text: message }), { teamId, channelId, command: '/separate' });
  }
}
