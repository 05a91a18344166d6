import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../core/config.js';
import { redactUrl } from '../../core/logging.js';
import { captureLogger } from '../support/services.js';

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

  it('carries request, job and guild ids on child loggers', () => {
    const { logger, lines } = captureLogger();
    logger.child({ guildId: 'g1' }).child({ jobId: 'j1' }).info('working');
    expect(lines()[0]).toMatchObject({ guildId: 'g1', jobId: 'j1', msg: 'working' });
  });

  it('keeps host and database of a URL but hides its password', () => {
    expect(redactUrl('postgres://app:pw@db.internal:5432/stembot')).toBe('postgres://app:***@db.internal:5432/stembot');
  });
});
