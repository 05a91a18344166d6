import type { WebClient } from '@slack/web-api';
import { z } from 'zod';
import { UserError } from '../../../core/errors.js';

const userInfoSchema = z.object({ user: z.object({ is_admin: z.boolean().optional(), is_owner: z.boolean().optional() }) });

/**
 * Workspace admins and owners, as Slack says in users.info: asked on every admin action, since a
 * slash command carries no role and a payload could be replayed by anyone who saw it.
 */
export async function isWorkspaceAdmin(client: WebClient, userId: string): Promise<boolean> {
  const { user } = userInfoSchema.parse(await client.users.info({ user: userId }));
  return Boolean(user.is_admin || user.is_owner);
}

/** Precondition for admin-only commands. */
export async function requireWorkspaceAdmin(client: WebClient, userId: string, action = 'change this workspace’s limits'): Promise<void> {
  if (!(await isWorkspaceAdmin(client, userId))) throw new UserError('not_admin', `Only workspace admins and owners can ${action}.`);
}
