import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Installation, InstallationQuery, InstallationStore } from '@slack/bolt';
import { z } from 'zod';
import { SlackInstallation } from '../../core/db/entities/index.js';
import type { Orm } from '../../core/db/orm.js';
import type { Logger } from '../../core/logging.js';
import { ensureTenant } from '../../core/tenants.js';

/**
 * Bolt's installation store on PostgreSQL: OAuth installs land here, and Bolt's authorize reads a
 * workspace's bot token back on each of its events. Tokens are sealed with AES-256-GCM under
 * SLACK_TOKEN_KEY before they reach the database.
 *
 * Sealed value: `v1.<key id>.<iv>.<ciphertext>.<tag>`, parts in base64url. The key id is a hash of
 * the key, so a fetch under another key says "wrong key" instead of "corrupt data". The row's key
 * (team or enterprise) and the column are the GCM associated data: a token copied into another
 * workspace's row or column does not decrypt there.
 */

const SEAL_VERSION = 'v1';
const IV_BYTES = 12;

/** Entity fields that hold sealed values. */
type SealedField = 'botToken' | 'botRefreshToken' | 'userToken' | 'userRefreshToken' | 'incomingWebhookUrl';

/** Why a stored token could not be read: a changed SLACK_TOKEN_KEY, or a value altered or moved. */
export class SlackTokenKeyError extends Error {
  override readonly name = 'SlackTokenKeyError';
  constructor(
    readonly code: 'slack_token_key_mismatch' | 'slack_token_unreadable',
    message: string,
  ) {
    super(message);
  }
}

/** A short, non-secret name for a key, written into each sealed value and into error messages. */
function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('stembot slack token key id\0').update(key).digest('base64url').slice(0, 8);
}

/** How Bolt names one installation: a workspace, or an enterprise for an org-wide install. */
interface InstallationKey {
  teamId?: string;
  enterpriseId?: string;
  isEnterpriseInstall: boolean;
}

function describeKey(key: InstallationKey): string {
  return key.isEnterpriseInstall ? `enterprise ${key.enterpriseId}` : `team ${key.teamId}`;
}

class TokenSealer {
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SLACK_TOKEN_KEY must be 32 bytes (AES-256)');
    this.keyId = keyIdOf(key);
  }

  seal(plaintext: string | undefined, owner: InstallationKey, field: SealedField): string | null {
    if (plaintext === undefined) return null;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(associatedData(owner, field));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [SEAL_VERSION, this.keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string | null | undefined, owner: InstallationKey, field: SealedField): string | undefined {
    if (sealed == null) return undefined;
    const [version, keyId, iv, ciphertext, tag] = sealed.split('.');
    if (version !== SEAL_VERSION || iv === undefined || ciphertext === undefined || tag === undefined) {
      throw new SlackTokenKeyError('slack_token_unreadable', `the stored Slack ${field} of ${describeKey(owner)} is not a sealed value; have the workspace reinstall the app`);
    }
    if (keyId !== this.keyId) {
      throw new SlackTokenKeyError(
        'slack_token_key_mismatch',
        `the Slack tokens of ${describeKey(owner)} were encrypted under another SLACK_TOKEN_KEY (key id ${keyId}; the configured key is ${this.keyId}): restore that key, or have the workspace reinstall the app`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(associatedData(owner, field));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SlackTokenKeyError('slack_token_unreadable', `the stored Slack ${field} of ${describeKey(owner)} fails its integrity check (altered, or copied from another row); have the workspace reinstall the app`);
    }
  }
}

function associatedData(owner: InstallationKey, field: SealedField): Buffer {
  const row = owner.isEnterpriseInstall ? `enterprise:${owner.enterpriseId}` : `team:${owner.teamId}`;
  return Buffer.from(`slack_installation/${row}/${field}`, 'utf8');
}

/**
 * The `installation` column as read back: Bolt's Installation without its secrets. Loose, so what a
 * newer Bolt adds survives a round trip.
 */
const storedInstallationSchema = z.looseObject({
  team: z.looseObject({ id: z.string(), name: z.string().optional() }).optional(),
  enterprise: z.looseObject({ id: z.string(), name: z.string().optional() }).optional(),
  user: z.looseObject({ id: z.string(), scopes: z.array(z.string()).optional(), expiresAt: z.number().optional() }),
  bot: z.looseObject({ id: z.string(), userId: z.string(), scopes: z.array(z.string()), expiresAt: z.number().optional() }).optional(),
  incomingWebhook: z.looseObject({ channel: z.string().optional(), channelId: z.string().optional(), configurationUrl: z.string().optional() }).optional(),
  isEnterpriseInstall: z.boolean().optional(),
  authVersion: z.enum(['v1', 'v2']).optional(),
});

/** The Installation less every token and the webhook URL, nulls dropped (Bolt reads absent, not null). */
function withoutSecrets(installation: Installation): Record<string, unknown> {
  const { bot, user, incomingWebhook, ...rest } = installation;
  const copy = {
    ...rest,
    user: { ...user, token: undefined, refreshToken: undefined },
    bot: bot && { ...bot, token: undefined, refreshToken: undefined },
    incomingWebhook: incomingWebhook && { ...incomingWebhook, url: undefined },
  };
  return JSON.parse(JSON.stringify(copy, (_key, value: unknown) => (value === null ? undefined : value))) as Record<string, unknown>;
}

function keyOfInstallation(installation: Installation): InstallationKey {
  if (installation.isEnterpriseInstall) {
    if (!installation.enterprise?.id) throw new Error('an org-wide Slack installation without an enterprise id cannot be stored');
    return { enterpriseId: installation.enterprise.id, isEnterpriseInstall: true };
  }
  if (!installation.team?.id) throw new Error('a Slack installation without a team id cannot be stored');
  return { teamId: installation.team.id, enterpriseId: installation.enterprise?.id, isEnterpriseInstall: false };
}

function keyOfQuery(query: InstallationQuery<boolean>): InstallationKey {
  if (query.isEnterpriseInstall) {
    if (!query.enterpriseId) throw new Error('an org-wide Slack installation is looked up by enterprise id, and none was given');
    return { enterpriseId: query.enterpriseId, isEnterpriseInstall: true };
  }
  if (!query.teamId) throw new Error('a Slack installation is looked up by team id, and none was given');
  return { teamId: query.teamId, isEnterpriseInstall: false };
}

function keyOfRow(row: SlackInstallation): InstallationKey {
  return { teamId: row.teamId ?? undefined, enterpriseId: row.enterpriseId ?? undefined, isEnterpriseInstall: row.isEnterpriseInstall };
}

/** The filter that finds a key's row; org-wide rows have no team, workspace rows always have one. */
function whereKey(key: InstallationKey) {
  return key.isEnterpriseInstall ? { enterpriseId: key.enterpriseId, teamId: null } : { teamId: key.teamId };
}

/** Insert, or on reinstall replace everything but the row's id and first install time. */
const UPSERT_COLUMNS = [
  'team_id',
  'enterprise_id',
  'is_enterprise_install',
  'app_id',
  'bot_id',
  'bot_user_id',
  'bot_scopes',
  'bot_token',
  'bot_refresh_token',
  'installer_user_id',
  'user_token',
  'user_refresh_token',
  'incoming_webhook_url',
  'installation',
] as const;

function upsertSql(key: InstallationKey): string {
  // The conflict targets are the table's two unique indexes (see the entity).
  const target = key.isEnterpriseInstall ? '(enterprise_id) where team_id is null' : '(team_id)';
  return `insert into slack_installation (id, ${UPSERT_COLUMNS.join(', ')}, installed_at, updated_at)
    values (gen_random_uuid(), ?, ?, ?, ?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)), ?, ?, ?, ?, ?, ?, ?::jsonb, now(), now())
    on conflict ${target} do update set ${UPSERT_COLUMNS.map((column) => `${column} = excluded.${column}`).join(', ')}, updated_at = now()`;
}

export interface SlackInstallationStoreOptions {
  orm: Orm;
  /** SLACK_TOKEN_KEY, decoded: 32 bytes. */
  tokenKey: Buffer;
  logger: Logger;
}

export class PostgresInstallationStore implements InstallationStore {
  private readonly sealer: TokenSealer;
  private readonly log: Logger;

  constructor(private readonly options: SlackInstallationStoreOptions) {
    this.sealer = new TokenSealer(options.tokenKey);
    this.log = options.logger.child({ component: 'slack-installation-store' });
  }

  private fork(): EntityManager {
    return this.options.orm.em.fork() as EntityManager;
  }

  /** Bolt's OAuth callback (and its token refresh) hands the installation over; Bolt's own logger is not used. */
  async storeInstallation<AuthVersion extends 'v1' | 'v2'>(installation: Installation<AuthVersion, boolean>): Promise<void> {
    const key = keyOfInstallation(installation);
    const seal = (value: string | undefined, field: SealedField) => this.sealer.seal(value, key, field);
    const { bot, user } = installation;
    const params = [
      key.teamId ?? null,
      key.enterpriseId ?? null,
      key.isEnterpriseInstall,
      installation.appId ?? null,
      bot?.id ?? null,
      bot?.userId ?? null,
      // As JSON: the query builder would spread a bare array into one parameter per scope.
      JSON.stringify(bot?.scopes ?? []),
      seal(bot?.token, 'botToken'),
      seal(bot?.refreshToken, 'botRefreshToken'),
      user.id,
      seal(user.token, 'userToken'),
      seal(user.refreshToken, 'userRefreshToken'),
      seal(installation.incomingWebhook?.url, 'incomingWebhookUrl'),
      JSON.stringify(withoutSecrets(installation)),
    ];
    await this.fork().transactional(async (em) => {
      // A workspace is a tenant (quotas, usage); an org-wide install names no single workspace, so
      // its workspaces become tenants on first contact, as guilds do.
      if (!key.isEnterpriseInstall && key.teamId) await ensureTenant(em, { platform: 'slack', externalId: key.teamId, name: installation.team?.name });
      await em.execute(upsertSql(key), params);
    });
    this.log.info({ teamId: key.teamId, enterpriseId: key.enterpriseId, isEnterpriseInstall: key.isEnterpriseInstall, installerUserId: user.id, botUserId: bot?.userId }, 'slack installation stored');
  }

  /**
   * The installation for an event's workspace (or org). A user token is returned only to its
   * installer's own events, as Bolt's stores do: no one acts with another person's token.
   */
  async fetchInstallation(query: InstallationQuery<boolean>): Promise<Installation<'v1' | 'v2', boolean>> {
    const key = keyOfQuery(query);
    const row = await this.fork().findOne(SlackInstallation, whereKey(key));
    if (!row) throw new Error(`no Slack installation for ${describeKey(key)}: install the app in that workspace`);
    try {
      return this.toInstallation(row, query.userId);
    } catch (error) {
      if (error instanceof SlackTokenKeyError) this.log.error({ ...key, code: error.code, keyId: this.sealer.keyId }, error.message);
      throw error;
    }
  }

  /**
   * Without a user id: the app left the workspace (`app_uninstalled`, or its bot token revoked), so
   * the row goes. With one (`tokens_revoked` for a user): only that installer's user token goes.
   */
  async deleteInstallation(query: InstallationQuery<boolean>): Promise<void> {
    const key = keyOfQuery(query);
    const em = this.fork();
    if (query.userId !== undefined) {
      const cleared = await em.nativeUpdate(SlackInstallation, { ...whereKey(key), installerUserId: query.userId }, { userToken: null, userRefreshToken: null });
      this.log.info({ ...key, userId: query.userId, cleared }, 'slack user token deleted');
      return;
    }
    const deleted = await em.nativeDelete(SlackInstallation, whereKey(key));
    this.log.info({ ...key, deleted }, 'slack installation deleted');
  }

  private toInstallation(row: SlackInstallation, userId: string | undefined): Installation<'v1' | 'v2', boolean> {
    const owner = keyOfRow(row);
    const open = (field: SealedField) => this.sealer.open(row[field], owner, field);
    const openPresent = (field: SealedField) => {
      const value = open(field);
      if (value === undefined) throw new SlackTokenKeyError('slack_token_unreadable', `the stored Slack installation of ${describeKey(owner)} has no ${field}; have the workspace reinstall the app`);
      return value;
    };
    const stored = storedInstallationSchema.parse(row.installation);
    const forInstaller = userId === undefined || userId === row.installerUserId;
    return {
      ...stored,
      bot: stored.bot && { ...stored.bot, token: openPresent('botToken'), refreshToken: open('botRefreshToken') },
      user: forInstaller
        ? { ...stored.user, token: open('userToken'), refreshToken: open('userRefreshToken') }
        : { id: stored.user.id, token: undefined, refreshToken: undefined, expiresAt: undefined, scopes: undefined },
      incomingWebhook: stored.incomingWebhook && { ...stored.incomingWebhook, url: openPresent('incomingWebhookUrl') },
    } as Installation<'v1' | 'v2', boolean>;
  }
}
