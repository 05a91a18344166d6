import type { StembotCore, TenantUser } from '../../core/stembot-core.js';
import type { JobsPageView } from './message-view.js';

/**
 * Page `page` (0-based) of a user's requests. Buttons need carry only the page number: a page is
 * found again by walking core's cursors from the start, which keeps button ids short and the bot
 * stateless.
 */
export async function loadJobsPage(core: Pick<StembotCore, 'list'>, who: TenantUser, page: number, pageSize: number): Promise<JobsPageView> {
  let result = await core.list(who, undefined, pageSize);
  for (let i = 0; i < page && result.nextCursor; i += 1) result = await core.list(who, result.nextCursor, pageSize);
  return { kind: 'jobs', page, items: result.items, hasNext: result.nextCursor !== undefined };
}
