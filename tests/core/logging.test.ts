import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { redactUrl } from '../../core/logging.js';
import { captureLogger } from '../support/services.js';

/** Shaped like the real thing, so the text rules are tested on what Discord and Slack issue. */
const BOT_TOKEN = 'MTE0NzM4OTU2MjM0NTY3ODkwMQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB';
const INTERACTION_TOKEN = 'aW50ZXJhY3Rpb246MTE0NzM4OTU2MjM0NTY3ODkwMTpzZWNyZXQ';
const APP_ID = '1147389562345678901';
const WEBHOOK_URL = `https://discord.com/api/v10/webhooks/${APP_ID}/${INTERACTION_TOKEN}/messages/@original`;

/** An error shaped like discord.js's DiscordAPIError: the request URL and body are own properties. */
class FakeApiError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly requestBody: unknown,
  ) {
    super(message);
  }
}

describe('logging', () => {
  it('never writes tokens, secrets or connection passwords', () => {
    const { logger, text } = captureLogger();
    const config = parseConfig({
      DISCORD_TOKEN: 'discord-secret-token',
      DISCORD_APPLICATION_ID: '1',
      SLACK_BOT_TOKEN: 'xoxb-secret',
      SLACK_SIGNING_SECRET: 'signing-secret',
      DATABASE_URL: 'postgres://app:db-password@db/stembot',
    });
    logger.info({ config }, 'loaded');
    logger.info({ discord: config.discord, slack: config.slack }, 'chat settings');
    logger.info({ token: 'bare-token', headers: { authorization: 'Bot header-token' } }, 'request');
    const written = text();
    for (const secret of ['discord-secret-token', 'xoxb-secret', 'signing-secret', 'db-password', 'bare-token', 'header-token']) {
      expect(written).not.toContain(secret);
    }
    expect(written).toContain('[redacted]');
  });

  it('redacts secret-named keys at any depth, inside errors and their causes too', () => {
    const { logger, text } = captureLogger();
    const inner = Object.assign(new Error('upstream refused'), { config: { auth: { password: 'cause-password' } } });
    const error = Object.assign(new Error('request failed', { cause: inner }), { request: { headers: { Authorization: 'header-secret' } }, options: { slackToken: 'deep-token' } });
    logger.warn({ err: error }, 'as err');
    logger.warn({ failure: error }, 'under another key');
    logger.warn({ a: { b: { c: { d: { e: { f: { g: { h: { i: { apiSecret: 'very-deep-secret' } } } } } } } } } }, 'deep');
    logger.error(Object.assign(new Error('bare'), { token: 'bare-error-token' }));
    const written = text();
    for (const secret of ['cause-password', 'header-secret', 'deep-token', 'very-deep-secret', 'bare-error-token']) expect(written).not.toContain(secret);
    expect(written).toContain('request failed');
  });

  it('hides the token in a DiscordAPIError-like url and request body, keeping the route', () => {
    const { logger, text } = captureLogger();
    const error = new FakeApiError('Invalid Webhook Token', WEBHOOK_URL, { json: { content: 'done' }, files: undefined });
    logger.warn({ err: error }, 'progress edit failed');
    logger.warn({ err: new Error('delivery failed', { cause: error }) }, 'wrapped');
    logger.warn({ error }, 'raw error under another key');
    logger.warn(error);
    const written = text();
    expect(written).not.toContain(INTERACTION_TOKEN);
    expect(written).toContain(`/webhooks/${APP_ID}/[redacted]/messages/@original`);
    expect(written).toContain('Invalid Webhook Token');
  });

  it('redacts child() bindings', () => {
    const { logger, lines } = captureLogger();
    logger.child({ webhook: WEBHOOK_URL, clientSecret: 'binding-secret' }).child({ queue: 'redis://:redis-pass@cache:6379/0' }).info('working');
    const line = JSON.stringify(lines()[0]);
    for (const secret of [INTERACTION_TOKEN, 'binding-secret', 'redis-pass']) expect(line).not.toContain(secret);
    expect(lines()[0]).toMatchObject({ clientSecret: '[redacted]', queue: 'redis://:[redacted]@cache:6379/0', msg: 'working' });
  });

  it('strips tokens from the message and from strings under any key', () => {
    const { logger, lines, text } = captureLogger();
    logger.info(`POST https://discord.com/api/v10/interactions/${APP_ID}/${INTERACTION_TOKEN}/callback answered 404`);
    logger.info({ detail: `Authorization: Bot ${BOT_TOKEN}` }, 'header echoed');
    logger.info({ detail: 'authorization=Bot short-tok' }, 'short header');
    logger.info(`logged in with ${BOT_TOKEN}`);
    logger.info({ detail: 'retrying with Bearer oauthAccess0123456789abcdef' }, 'oauth');
    logger.info({ seen: ['xoxb-1234-5678-slackbot', 'xoxp-1234-5678-slackuser', 'xapp-1-A0-123-slackapp'] }, 'slack');
    logger.info({ note: 'slack said xoxb-1234-5678-inmessage is revoked' }, 'slack error');
    logger.info({ link: 'https://files.example/stems/a.flac?expires=1&sig=signed-link-secret' }, 'signed link');
    // What an operator needs to debug stays readable: hosts, ports, routes, ids, file paths, prose.
    logger.info({ url: 'http://127.0.0.1:8080/api/v10/users/@me', path: '/srv/bots/webhooks/render.ts', guildId: '1100000000000000001' }, 'Bot started');
    const written = text();
    for (const secret of [INTERACTION_TOKEN, BOT_TOKEN, 'short-tok', 'oauthAccess0123456789abcdef', 'slackbot', 'slackuser', 'slackapp', 'inmessage', 'signed-link-secret']) {
      expect(written).not.toContain(secret);
    }
    expect(lines()[0]?.msg).toBe(`POST https://discord.com/api/v10/interactions/${APP_ID}/[redacted]/callback answered 404`);
    expect(lines()[6]?.note).toBe('slack said xoxb-[redacted] is revoked');
    expect(lines()[8]).toMatchObject({ url: 'http://127.0.0.1:8080/api/v10/users/@me', path: '/srv/bots/webhooks/render.ts', guildId: '1100000000000000001', msg: 'Bot started' });
  });

  it('hides connection URL passwords under any key but keeps user, host and database', () => {
    const { logger, lines, text } = captureLogger();
    logger.info({ url: 'redis://:redis-pass@cache.internal:6379/2' }, 'queue');
    logger.info({ target: 'postgres://app:pg-pass@db.internal:5432/stembot' }, 'database');
    logger.info('connecting to rediss://default:tls-pass@cache.internal:6380');
    expect(text()).not.toMatch(/redis-pass|pg-pass|tls-pass/);
    expect(lines().map((line) => line.url ?? line.target ?? line.msg)).toEqual([
      'redis://:[redacted]@cache.internal:6379/2',
      'postgres://app:[redacted]@db.internal:5432/stembot',
      'connecting to rediss://default:[redacted]@cache.internal:6380',
    ]);
  });

  it('carries request, job and guild ids on child loggers', () => {
    const { logger, lines } = captureLogger();
    logger.child({ guildId: 'g1' }).child({ jobId: 'j1' }).info('working');
    expect(lines()[0]).toMatchObject({ guildId: 'g1', jobId: 'j1', msg: 'working' });
  });

  it('keeps host and database of a URL but hides its password', () => {
    expect(redactUrl('postgres://app:pw@db.internal:5432/stembot')).toBe('postgres://app:***@db.internal:5432/stembot');
  });
});
