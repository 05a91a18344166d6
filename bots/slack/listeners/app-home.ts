import type { AllMiddlewareArgs, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { SlackContext } from '../context.js';
import { renderHome } from '../render/home.js';

const homeSchema = z.object({ team_id: z.string(), event: z.object({ user: z.string(), tab: z.string().optional() }) });

/** The number of recent requests the Home tab lists. */
const RECENT = 5;

/** App Home: published afresh each time the user opens the Home tab, so it is never stale. */
export async function appHomeOpened({ body, client }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  const { team_id: teamId, event } = homeSchema.parse(body);
  if (event.tab !== undefined && event.tab !== 'home') return;
  const report = await context.core.quota.show({ platform: 'slack', externalId: teamId });
  const recent = await context.core.list({ platform: 'slack', tenantId: teamId, userId: event.user }, undefined, RECENT);
  await client.views.publish({ user_id: event.user, view: renderHome(report, recent.items) });
}
