import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, readEnvironment } from '../../core/config.js';
import { ConfigError } from '../../core/errors.js';
import { makeTempDir } from '../support/services.js';

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const config = parseConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
    expect(config.storageDir).toBe(path.resolve('data/files'));
    expect(config.modelsDir).toBe(path.resolve('data/models'));
    expect(config.roles).toEqual(['relay', 'worker', 'discord', 'slack']);
    expect(config.quotaDefaults).toMatchObject({ maxTrackSeconds: 900, dailySeconds: 3600, allowedModels: ['htdemucs'] });
    expect(config.discord).toBeUndefined();
  });

  it.each([
    [{ DATABASE_URL: 'not-a-url' }, /^DATABASE_URL: expected a URL like postgres:\/\//],
    [{ DATABASE_URL: 'mysql://db/stembot' }, /^DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: expected a URL/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    [{ WORKER_CONCURRENCY: '0' }, /^WORKER_CONCURRENCY: expected a number above 0, got "0"$/],
    [{ ONNX_THREADS: 'many' }, /^ONNX_THREADS: expected a whole number, got "many"$/],
    [{ ONNX_DEVICE: 'tpu' }, /^ONNX_DEVICE: expected auto, cpu or cuda, got "tpu"$/],
    [{ QUEUE_NAMESPACE: 'Bad-Name' }, /^QUEUE_NAMESPACE: expected lower-case letters/],
    [{ DISCORD_TOKEN: 'abc.def' }, /^DISCORD_APPLICATION_ID: required when DISCORD_TOKEN is set$/],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, /^SLACK_SIGNING_SECRET: SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET \(HTTP events\) or SLACK_APP_TOKEN/],
    [{ QUOTA_DAILY_MINUTES: '700' }, /^QUOTA_DAILY_MINUTES: 700 is more than QUOTA_MONTHLY_MINUTES \(600\)/],
    [{ ROLES: 'worker,web' }, /^ROLES: expected all or a comma-separated list of relay, worker, discord, slack, got web$/],
  ])('refuses %o with a message naming the variable', (env, message) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({ DATABASE_URL: 'nope', LOG_LEVEL: 'loud', WORKER_CONCURRENCY: '-1' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'WORKER_CONCURRENCY']);
  });

  it('never repeats a secret value in its messages', () => {
    const problems = problemsOf({ DATABASE_URL: 'postgres//user:hunter2@db', REDIS_URL: 'ftp://:s3cret@cache' });
    expect(problems.join('\n')).not.toMatch(/hunter2|s3cret/);
  });

  it('builds chat settings only when they are complete', () => {
    const config = parseConfig({ DISCORD_TOKEN: 't', DISCORD_APPLICATION_ID: '42', SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp', ROLES: 'worker, relay' });
    expect(config.discord).toEqual({ token: 't', applicationId: '42', apiUrl: undefined });
    expect(config.slack).toMatchObject({ botToken: 'xoxb', appToken: 'xapp', port: 3000 });
    expect(config.roles).toEqual(['worker', 'relay']);
  });

  describe('.env file', () => {
    let remove: (() => Promise<void>) | undefined;
    afterEach(async () => remove?.());

    it('is read from the working directory, and the environment wins over it', async () => {
      const temp = await makeTempDir();
      remove = temp.remove;
      await writeFile(path.join(temp.dir, '.env'), 'LOG_LEVEL=debug\nWORKER_CONCURRENCY=3\n# a comment\nDATA_DIR="/srv/stembot"\n');
      const env = readEnvironment(temp.dir, { WORKER_CONCURRENCY: '5' });
      const config = parseConfig(env);
      expect(config.logLevel).toBe('debug');
      expect(config.worker.concurrency).toBe(5);
      expect(config.dataDir).toBe('/srv/stembot');
    });

    it('is optional', async () => {
      const temp = await makeTempDir();
      remove = temp.remove;
      expect(readEnvironment(temp.dir, { LOG_LEVEL: 'warn' })).toEqual({ LOG_LEVEL: 'warn' });
    });
  });
});
