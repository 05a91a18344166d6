import { randomBytes } from 'node:crypto';
import type { Installation } from '@slack/bolt';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresInstallationStore, SlackTokenKeyError } from '../../../bots/slack/installation-store.js';
import { parseConfig } from '../../../core/config.js';
import { Tenant } from '../../../core/db/entities/index.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { captureLogger, createTestDatabase, makeTempDir, uniqueNamespace } from '../../support/services.js';
import { seedEmbeddedDatabase } from '../../support/embedded-template.js';

/** Token-shaped values (Slack's prefixes), unique per call so a leak is traced to its test. */
const token = (prefix: 'xoxb' | 'xoxp' | 'xoxe') => `${prefix}-${randomBytes(12).toString('hex')}`;

function workspaceInstall(teamId: string, tokens: { bot: string; user?: string }, installer = 'U_INSTALLER'): Installation<'v2', false> {
  return {
    team: { id: teamId, name: `Workspace ${teamId}` },
    enterprise: undefined,
    user: { id: installer, token: tokens.user, scopes: tokens.user ? ['files:read'] : undefined },
    bot: { id: 'B_STEMBOT', userId: 'U_STEMBOT', token: tokens.bot, scopes: ['chat:write', 'commands', 'files:write'] },
    appId: 'A_STEMBOT',
    tokenType: 'bot',
    isEnterpriseInstall: false,
    authVersion: 'v2',
  };
}

function orgInstall(enterpriseId: string, botToken: string): Installation<'v2', true> {
  return {
    team: undefined,
    enterprise: { id: enterpriseId, name: 'Grid Org' },
    user: { id: 'U_ORG_ADMIN', token: undefined, scopes: undefined },
    bot: { id: 'B_STEMBOT', userId: 'U_STEMBOT', token: botToken, scopes: ['chat:write', 'commands'] },
    appId: 'A_STEMBOT',
    tokenType: 'bot',
    enterpriseUrl: 'https://grid.enterprise.slack.com/',
    isEnterpriseInstall: true,
    authVersion: 'v2',
  };
}

const byTeam = (teamId: string, userId?: string) => ({ teamId, enterpriseId: undefined, isEnterpriseInstall: false as const, userId });

interface Backend {
  runtime: Runtime;
  close(): Promise<void>;
}

async function onPostgres(): Promise<Backend> {
  const database = await createTestDatabase();
  const runtime = await openRuntime(parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace() }), captureLogger().logger);
  return { runtime, close: async () => (await runtime.close(), database.drop()) };
}

async function onEmbedded(): Promise<Backend> {
  const temp = await makeTempDir();
  await seedEmbeddedDatabase(temp.dir);
  const runtime = await openRuntime(parseConfig({ DATA_DIR: temp.dir }), captureLogger().logger);
  return { runtime, close: async () => (await runtime.close(), temp.remove()) };
}

describe.each([
  ['PostgreSQL', onPostgres],
  ['embedded PGlite', onEmbedded],
])('Slack installation store on %s', (_name, open) => {
  let backend: Backend;
  let key: Buffer;
  let store: PostgresInstallationStore;
  let logs: ReturnType<typeof captureLogger>;

  beforeAll(async () => {
    backend = await open();
    key = randomBytes(32);
    logs = captureLogger();
    store = new PostgresInstallationStore({ orm: backend.runtime.orm, tokenKey: key, logger: logs.logger });
  });
  afterAll(async () => backend.close());

  /** Rows as the database holds them, read past the ORM (what a dump or a backup would show). */
  async function rawRows(where: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    const client = new pg.Client({ connectionString: backend.runtime.databaseUrl });
    await client.connect();
    try {
      return (await client.query(`select * from slack_installation where ${where}`, params)).rows;
    } finally {
      await client.end();
    }
  }

  it("stores a workspace's install, hands its tokens back by team, and makes the workspace a tenant", async () => {
    const tokens = { bot: token('xoxb'), user: token('xoxp') };
    await store.storeInstallation(workspaceInstall('T_STORE', tokens));

    const fetched = await store.fetchInstallation(byTeam('T_STORE'));
    expect(fetched.bot).toEqual({ id: 'B_STEMBOT', userId: 'U_STEMBOT', token: tokens.bot, scopes: ['chat:write', 'commands', 'files:write'] });
    expect(fetched.user).toMatchObject({ id: 'U_INSTALLER', token: tokens.user });
    expect(fetched).toMatchObject({ team: { id: 'T_STORE', name: 'Workspace T_STORE' }, appId: 'A_STEMBOT', isEnterpriseInstall: false, authVersion: 'v2' });

    const tenant = await backend.runtime.orm.em.fork().findOne(Tenant, { platform: 'slack', externalId: 'T_STORE' });
    expect(tenant?.name).toBe('Workspace T_STORE');
  });

  it("gives a user token only to its installer's own events", async () => {
    const tokens = { bot: token('xoxb'), user: token('xoxp') };
    await store.storeInstallation(workspaceInstall('T_USERS', tokens));
    expect((await store.fetchInstallation(byTeam('T_USERS', 'U_INSTALLER'))).user.token).toBe(tokens.user);
    const forSomeoneElse = await store.fetchInstallation(byTeam('T_USERS', 'U_SOMEONE_ELSE'));
    expect(forSomeoneElse.user.token).toBeUndefined();
    expect(forSomeoneElse.bot?.token).toBe(tokens.bot);
  });

  it('keeps an org-wide install under its enterprise, apart from a workspace install in the same org', async () => {
    const orgToken = token('xoxb');
    const workspaceToken = token('xoxb');
    await store.storeInstallation(orgInstall('E_GRID', orgToken));
    await store.storeInstallation({ ...workspaceInstall('T_IN_GRID', { bot: workspaceToken }), enterprise: { id: 'E_GRID', name: 'Grid Org' } });

    // Bolt asks this way for an event from any workspace of an org-wide install.
    const org = await store.fetchInstallation({ teamId: 'T_ANY_IN_GRID', enterpriseId: 'E_GRID', isEnterpriseInstall: true });
    expect(org.bot?.token).toBe(orgToken);
    expect(org).toMatchObject({ enterprise: { id: 'E_GRID' }, isEnterpriseInstall: true, enterpriseUrl: 'https://grid.enterprise.slack.com/' });
    expect(org.team).toBeUndefined();
    expect((await store.fetchInstallation({ teamId: 'T_IN_GRID', enterpriseId: 'E_GRID', isEnterpriseInstall: false })).bot?.token).toBe(workspaceToken);
    await expect(store.fetchInstallation(byTeam('T_ANY_IN_GRID'))).rejects.toThrow(/no Slack installation for team T_ANY_IN_GRID/);

    // Reinstalling org-wide replaces the org's row too.
    const newOrgToken = token('xoxb');
    await store.storeInstallation(orgInstall('E_GRID', newOrgToken));
    expect((await store.fetchInstallation({ teamId: undefined, enterpriseId: 'E_GRID', isEnterpriseInstall: true })).bot?.token).toBe(newOrgToken);
    expect(await rawRows('enterprise_id = $1', ['E_GRID'])).toHaveLength(2);
  });

  it('updates the one row on reinstall: new token, first install time kept', async () => {
    const first = token('xoxb');
    await store.storeInstallation(workspaceInstall('T_REINSTALL', { bot: first, user: token('xoxp') }));
    const [before] = await rawRows('team_id = $1', ['T_REINSTALL']);
    const second = token('xoxb');
    await store.storeInstallation(workspaceInstall('T_REINSTALL', { bot: second }, 'U_OTHER_ADMIN'));

    const rows = await rawRows('team_id = $1', ['T_REINSTALL']);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.installed_at).toEqual(before?.installed_at);
    expect(rows[0]?.id).toBe(before?.id);
    const fetched = await store.fetchInstallation(byTeam('T_REINSTALL'));
    expect(fetched.bot?.token).toBe(second);
    // The new installer gave no user token: the previous installer's must not linger.
    expect(fetched.user).toMatchObject({ id: 'U_OTHER_ADMIN', token: undefined });
    expect(await backend.runtime.orm.em.fork().count(Tenant, { platform: 'slack', externalId: 'T_REINSTALL' })).toBe(1);
  });

  it('deletes the install when the app is uninstalled, keeping the tenant and its usage', async () => {
    await store.storeInstallation(workspaceInstall('T_UNINSTALL', { bot: token('xoxb') }));
    await store.deleteInstallation(byTeam('T_UNINSTALL'));
    await expect(store.fetchInstallation(byTeam('T_UNINSTALL'))).rejects.toThrow(/no Slack installation for team T_UNINSTALL/);
    expect(await rawRows('team_id = $1', ['T_UNINSTALL'])).toHaveLength(0);
    expect(await backend.runtime.orm.em.fork().count(Tenant, { platform: 'slack', externalId: 'T_UNINSTALL' })).toBe(1);
  });

  it("drops only the installer's user token when that user's tokens are revoked", async () => {
    const tokens = { bot: token('xoxb'), user: token('xoxp') };
    await store.storeInstallation(workspaceInstall('T_REVOKE', tokens));
    await store.deleteInstallation(byTeam('T_REVOKE', 'U_INSTALLER'));
    const fetched = await store.fetchInstallation(byTeam('T_REVOKE'));
    expect(fetched.user.token).toBeUndefined();
    expect(fetched.bot?.token).toBe(tokens.bot);
  });

  it('never writes a token in plaintext to the database or the log', async () => {
    const secrets = { bot: token('xoxb'), user: token('xoxp'), botRefresh: token('xoxe'), webhook: `https://hooks.slack.com/services/T_AT_REST/B1/${randomBytes(12).toString('hex')}` };
    const install = workspaceInstall('T_AT_REST', { bot: secrets.bot, user: secrets.user });
    await store.storeInstallation({
      ...install,
      bot: { ...install.bot!, refreshToken: secrets.botRefresh, expiresAt: 2_000_000_000 },
      incomingWebhook: { url: secrets.webhook, channel: '#music', channelId: 'C1' },
    });

    const [row] = await rawRows('team_id = $1', ['T_AT_REST']);
    const dumped = JSON.stringify(row);
    for (const secret of Object.values(secrets)) expect(dumped).not.toContain(secret);
    expect(row?.bot_token).toMatch(/^v1\./);
    expect(logs.text()).not.toMatch(/xox[bpe]-[0-9a-f]{6}|hooks\.slack\.com/);

    const fetched = await store.fetchInstallation(byTeam('T_AT_REST'));
    expect(fetched.bot).toMatchObject({ token: secrets.bot, refreshToken: secrets.botRefresh, expiresAt: 2_000_000_000 });
    expect(fetched.incomingWebhook).toEqual({ url: secrets.webhook, channel: '#music', channelId: 'C1' });
  });

  it('refuses, saying so, to read tokens under another SLACK_TOKEN_KEY', async () => {
    const botToken = token('xoxb');
    await store.storeInstallation(workspaceInstall('T_WRONG_KEY', { bot: botToken }));
    const other = captureLogger();
    const withOtherKey = new PostgresInstallationStore({ orm: backend.runtime.orm, tokenKey: randomBytes(32), logger: other.logger });

    const failure = await withOtherKey.fetchInstallation(byTeam('T_WRONG_KEY')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(SlackTokenKeyError);
    expect((failure as SlackTokenKeyError).code).toBe('slack_token_key_mismatch');
    expect((failure as Error).message).toMatch(/team T_WRONG_KEY were encrypted under another SLACK_TOKEN_KEY .*restore that key, or have the workspace reinstall/);
    expect(other.text()).toContain('slack_token_key_mismatch');
    expect(other.text()).not.toContain(botToken);
  });

  it("does not decrypt one workspace's token copied into another's row", async () => {
    await store.storeInstallation(workspaceInstall('T_VICTIM', { bot: token('xoxb') }));
    await store.storeInstallation(workspaceInstall('T_INTRUDER', { bot: token('xoxb') }));
    const em = backend.runtime.orm.em.fork();
    await em.execute("update slack_installation set bot_token = (select bot_token from slack_installation where team_id = 'T_VICTIM') where team_id = 'T_INTRUDER'");

    await expect(store.fetchInstallation(byTeam('T_INTRUDER'))).rejects.toMatchObject({ code: 'slack_token_unreadable', message: expect.stringMatching(/team T_INTRUDER fails its integrity check/) });
  });
});
