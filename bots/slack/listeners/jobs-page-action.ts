import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import { loadJobsPage } from '../../chat/jobs-page.js';
import type { SlackContext } from '../context.js';
import { renderJobsPage } from '../render/jobs.js';
import { answerFailure } from './answer-failure.js';
import { JOBS_PAGE_SIZE } from './stembot-command.js';

/** Pages beyond this are not offered by any button: a forged value asks for no more work than that. */
const MAX_PAGE = 100;

const pageSchema = z.object({
  user: z.object({ id: z.string() }),
  team: z.object({ id: z.string() }),
  actions: z.array(z.object({ value: z.coerce.number().int().min(0).max(MAX_PAGE) })).length(1),
});

/** Prev/Next on a `/stembot jobs` page: the asker's own list, the page in place. */
export async function jobsPageAction({ ack, body, respond }: SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  await ack();
  try {
    const parsed = pageSchema.parse(body);
    const view = await loadJobsPage(context.core, { platform: 'slack', tenantId: parsed.team.id, userId: parsed.user.id }, parsed.actions[0]?.value ?? 0, JOBS_PAGE_SIZE);
    await respond({ response_type: 'ephemeral', replace_original: true, ...renderJobsPage(view) });
  } catch (error) {
    await answerFailure(error, context, (text) => respond({ response_type: 'ephemeral', replace_original: false, text }), { action: 'jobs_page' });
  }
}
