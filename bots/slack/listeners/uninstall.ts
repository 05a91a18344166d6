import type { AllMiddlewareArgs, InstallationQuery, SlackEventMiddlewareArgs } from '@slack/bolt';
import { z } from 'zod';
import type { SlackContext } from '../context.js';

const envelopeSchema = z.object({
  team_id: z.string().optional(),
  enterprise_id: z.string().nullish(),
  authorizations: z.array(z.object({ is_enterprise_install: z.boolean().optional() })).optional(),
});

/** The installation an event's envelope names: its workspace, or its org for an org-wide install. */
function installationOf(body: unknown): InstallationQuery<boolean> {
  const envelope = envelopeSchema.parse(body);
  return {
    teamId: envelope.team_id,
    enterpriseId: envelope.enterprise_id ?? undefined,
    isEnterpriseInstall: envelope.authorizations?.[0]?.is_enterprise_install ?? false,
  };
}

/** `app_uninstalled`: the app left the workspace, so its installation (and tokens) go. One-token installs have no store. */
export async function appUninstalled({ body }: SlackEventMiddlewareArgs<'app_uninstalled'> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  const query = installationOf(body);
  context.logger.info({ teamId: query.teamId, enterpriseId: query.enterpriseId }, 'slack app uninstalled');
  await context.installationStore?.deleteInstallation?.(query);
}

/**
 * `tokens_revoked`: a revoked bot token ends the installation, as an uninstall does; a revoked
 * user token clears only that installer's token.
 */
export async function tokensRevoked({ body, event }: SlackEventMiddlewareArgs<'tokens_revoked'> & AllMiddlewareArgs, context: SlackContext): Promise<void> {
  const query = installationOf(body);
  const store = context.installationStore;
  context.logger.info({ teamId: query.teamId, enterpriseId: query.enterpriseId, bot: event.tokens.bot?.length ?? 0, users: event.tokens.oauth?.length ?? 0 }, 'slack tokens revoked');
  if (!store?.deleteInstallation) return;
  if ((event.tokens.bot ?? []).length > 0) {
    await store.deleteInstallation(query);
    return;
  }
  for (const userId of event.tokens.oauth ?? []) await store.deleteInstallation({ ...query, userId });
}
