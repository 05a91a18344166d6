import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';

/**
 * The app installed in one Slack workspace (or, for an Enterprise Grid org-wide install, in one
 * enterprise): what Bolt's OAuth flow hands over and what it asks for on every event to find the
 * workspace's bot token. Reinstalling updates the row; uninstalling deletes it (the workspace's
 * tenant and its usage stay).
 *
 * Token columns hold sealed values (AES-256-GCM under SLACK_TOKEN_KEY, see
 * bots/slack/installation-store.ts), never plaintext: a database dump or backup alone does not
 * let anyone post as the bot.
 */
export class SlackInstallation {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'isEnterpriseInstall' | 'installedAt' | 'updatedAt';
  id: string = randomUUID();
  /** The workspace (T...); absent for an org-wide install, which is keyed by its enterprise. */
  teamId?: string;
  /** The Enterprise Grid org (E...), for org-wide installs and for workspaces inside an org. */
  enterpriseId?: string;
  isEnterpriseInstall = false;
  appId?: string;
  botId?: string;
  botUserId?: string;
  botScopes: string[] = [];
  /** Sealed. */
  botToken?: string;
  /** Sealed; present when the app uses token rotation. */
  botRefreshToken?: string;
  /** Who installed the app (their user token, if the app asked for user scopes, is theirs). */
  installerUserId!: string;
  /** Sealed. */
  userToken?: string;
  /** Sealed. */
  userRefreshToken?: string;
  /** Sealed: anyone holding an incoming webhook URL can post with it. */
  incomingWebhookUrl?: string;
  /** Bolt's whole `Installation` less the values above that are sealed, so a fetch returns all Slack sent. */
  installation!: Record<string, unknown>;
  installedAt: Date = new Date();
  updatedAt: Date = new Date();
}

export const SlackInstallationSchema = new EntitySchema<SlackInstallation>({
  class: SlackInstallation,
  tableName: 'slack_installation',
  indexes: [
    // Org-wide installs have no team: one row per enterprise among them. Workspace installs inside
    // an org share its enterprise id, so the rule cannot cover every row.
    {
      name: 'slack_installation_org_unique',
      expression: 'create unique index slack_installation_org_unique on slack_installation (enterprise_id) where team_id is null',
    },
  ],
  checks: [
    {
      name: 'slack_installation_key_check',
      expression: '(is_enterprise_install and team_id is null and enterprise_id is not null) or (not is_enterprise_install and team_id is not null)',
    },
  ],
  properties: {
    id: { type: 'uuid', primary: true },
    teamId: { type: 'string', length: 64, nullable: true, unique: 'slack_installation_team_id_unique' },
    enterpriseId: { type: 'string', length: 64, nullable: true },
    isEnterpriseInstall: { type: 'boolean' },
    appId: { type: 'string', length: 64, nullable: true },
    botId: { type: 'string', length: 64, nullable: true },
    botUserId: { type: 'string', length: 64, nullable: true },
    botScopes: { type: 'string[]' },
    botToken: { type: 'text', nullable: true },
    botRefreshToken: { type: 'text', nullable: true },
    installerUserId: { type: 'string', length: 64 },
    userToken: { type: 'text', nullable: true },
    userRefreshToken: { type: 'text', nullable: true },
    incomingWebhookUrl: { type: 'text', nullable: true },
    installation: { type: 'json' },
    installedAt: { type: 'Date', columnType: 'timestamptz' },
    updatedAt: { type: 'Date', columnType: 'timestamptz', onUpdate: () => new Date() },
  },
});
