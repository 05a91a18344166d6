import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { UserError } from '../../../core/errors.js';
import { SETTABLE_LIMITS } from '../../../core/quotas/limits.js';
import { loadJobsPage } from '../../chat/jobs-page.js';
import type { SlackContext } from '../context.js';
import { isWorkspaceAdmin, requireWorkspaceAdmin } from '../guards/workspace-admin.js';
import { renderJobsPage } from '../render/jobs.js';
import type { SlackPayload } from '../render/payload.js';
import { renderQuota } from '../render/quota.js';
import { renderStatus } from '../render/status.js';
import { answerFailure } from './answer-failure.js';

export const JOBS_PAGE_SIZE = 5;

const commandSchema = z.object({ team_id: z.string(), team_domain: z.string().optional(), channel_id: z.string(), user_id: z.string(), text: z.string() });
type Command = z.infer<typeof commandSchema>;

const HELP = [
  '*stembot* splits songs into vocals, drums, bass and other.',
  '`/separate https://youtu.be/dQw4w9WgXcQ` — all four stems as mp3, in the message’s thread',
  '`/separate <link> karaoke flac` — vocals + accompaniment as flac',
  'A long song gets a short preview in the thread first; `/separate <link> preview:false` skips it.',
  'Your own audio file: the message shortcut *Separate stems* on it (⋯ on the message), or send it to me in a DM. `@stembot <link>` works too.',
  '`/stembot jobs` — your recent separations · `/stembot cancel` — stop your latest one',
  `\`/stembot quota\` — this workspace’s limits · admins: \`/stembot quota set daily_minutes 120\`, \`/stembot quota reset\` (limits: ${Object.keys(SETTABLE_LIMITS).join(', ')})`,
  '`/stembot status` — the bot’s workers and queue, for workspace admins',
].join('\n');

/** What the asker reads: plain mrkdwn, or blocks with their fallback text. */
type Reply = SlackPayload | { text: string };

async function quota(command: Command, args: string[], client: WebClient, context: SlackContext): Promise<Reply> {
  const tenant = { platform: 'slack' as const, externalId: command.team_id, name: command.team_domain };
  const [action, limit, ...value] = args;
  if (action === undefined) return { text: renderQuota({ kind: 'quota', report: await context.core.quota.show(tenant), saved: false }) };
  if (action !== 'set' && action !== 'reset') throw new UserError('unknown_command', 'Use `/stembot quota`, `/stembot quota set <limit> <value>` or `/stembot quota reset`.');
  await requireWorkspaceAdmin(client, command.user_id);
  if (action === 'reset') await context.core.quota.reset(tenant, command.user_id);
  else if (limit === undefined || value.length === 0) throw new UserError('unknown_command', `Use \`/stembot quota set <limit> <value>\`; limits: ${Object.keys(SETTABLE_LIMITS).join(', ')}.`);
  // The limit name is checked by core, not cast: anything can be typed after a slash command.
  else await context.core.quota.set(tenant, limit, value.join(' '), command.user_id);
  return { text: renderQuota({ kind: 'quota', report: await context.core.quota.show(tenant), saved: true }) };
}

/** The bot's workers, queue and last hour: aggregate figures only, no workspace's requests. */
async function status(command: Command, client: WebClient, context: SlackContext): Promise<Reply> {
  await requireWorkspaceAdmin(client, command.user_id, 'see the bot’s status');
  return { text: renderStatus(await context.core.clusterStatus()) };
}

async function run(command: Command, client: WebClient, context: SlackContext): Promise<Reply> {
  const [sub = 'help', ...args] = command.text.trim().split(/\s+/).filter(Boolean).map((word, i) => (i < 2 ? word.toLowerCase() : word));
  const who = { platform: 'slack' as const, tenantId: command.team_id, userId: command.user_id };
  if (sub === 'help') return { text: HELP };
  if (sub === 'jobs') return renderJobsPage(await loadJobsPage(context.core, who, 0, JOBS_PAGE_SIZE));
  if (sub === 'quota') return quota(command, args, client, context);
  if (sub === 'status') return status(command, client, context);
  if (sub === 'cancel') {
    const requestId = await context.core.cancelLatest(who, await isWorkspaceAdmin(client, command.user_id));
    context.progress.untrack(requestId);
    return { text: 'Cancelled. Nothing was charged for it.' };
  }
  throw new UserError('unknown_command', `I don’t know \`/stembot ${sub}\`. Try \`/stembot help\`.`);
}

/** `/stembot jobs|quota|cancel|status|help`: everything but separating, answered to the asker only. */
export async function stembotCommand({ ack, command, respond, client }: SlackCommandMiddlewareArgs & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  await ack();
  const parsed = commandSchema.parse(command);
  try {
    await respond({ response_type: 'ephemeral', ...(await run(parsed, client, context)) });
  } catch (error) {
    await answerFailure(error, context, (text) => respond({ response_type: 'ephemeral', text }), { teamId: parsed.team_id, command: '/stembot' });
  }
}
