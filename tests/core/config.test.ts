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
    expect(config.roles).toEqual(['relay', 'worker', 'discord', 'slack', 'web']);
    expect(config.web).toEqual({ port: 8080, host: '127.0.0.1', allowedHosts: [] });
    expect(config.worker).toMatchObject({ models: ['htdemucs'], heartbeatSeconds: 10 });
    expect(config.modelRegistryUrl).toBeUndefined();
    expect(config.quotaDefaults).toMatchObject({ maxTrackSeconds: 900, dailySeconds: 3600, allowedModels: ['htdemucs'] });
    expect(config.discord).toBeUndefined();
    expect(config.previewSeconds).toBe(30);
    expect(parseConfig({ PREVIEW_SECONDS: '0' }).previewSeconds).toBe(0);
  });

  it('downloads YouTube with yt-dlp when installed, else ytdl, and takes the cookies and yt-dlp paths as given', () => {
    expect(parseConfig({}).youtube).toEqual({ downloader: 'auto', cookiesPath: undefined, ytdlpPath: undefined });
    expect(parseConfig({ YOUTUBE_DOWNLOADER: 'yt-dlp', YOUTUBE_COOKIES: 'secrets/cookies.txt', YTDLP_PATH: '/opt/yt-dlp' }).youtube).toEqual({
      downloader: 'yt-dlp',
      cookiesPath: path.resolve('secrets/cookies.txt'),
      ytdlpPath: '/opt/yt-dlp',
    });
  });

  it.each([
    [{ DATABASE_URL: 'not-a-url' }, /^DATABASE_URL: expected a URL like postgres:\/\//],
    [{ DATABASE_URL: 'mysql://db/stembot' }, /^DATABASE_URL: expected a URL starting with postgres:\/\/ or postgresql:\/\//],
    [{ REDIS_URL: 'localhost:6379' }, /^REDIS_URL: expected a URL/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"$/],
    [{ WORKER_CONCURRENCY: '0' }, /^WORKER_CONCURRENCY: expected a number above 0, got "0"$/],
    [{ ONNX_THREADS: 'many' }, /^ONNX_THREADS: expected a whole number, got "many"$/],
    [{ ONNX_DEVICE: 'tpu' }, /^ONNX_DEVICE: expected auto, cpu or cuda, got "tpu"$/],
    [{ YOUTUBE_DOWNLOADER: 'youtube-dl' }, /^YOUTUBE_DOWNLOADER: expected one of auto, ytdl, yt-dlp, got "youtube-dl"$/],
    [{ QUEUE_NAMESPACE: 'Bad-Name' }, /^QUEUE_NAMESPACE: expected lower-case letters/],
    [{ DISCORD_TOKEN: 'abc.def' }, /^DISCORD_APPLICATION_ID: required when DISCORD_TOKEN is set$/],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, /^SLACK_SIGNING_SECRET: SLACK_BOT_TOKEN needs SLACK_SIGNING_SECRET \(HTTP events\) or SLACK_APP_TOKEN/],
    [{ QUOTA_DAILY_MINUTES: '700' }, /^QUOTA_DAILY_MINUTES: 700 is more than QUOTA_MONTHLY_MINUTES \(600\)/],
    [{ ROLES: 'worker,http' }, /^ROLES: expected all or a comma-separated list of relay, worker, discord, slack, web, got http$/],
    [{ WEB_PORT: '70000' }, /^WEB_PORT: expected a port from 0 to 65535, got "70000"$/],
    [{ WEB_ALLOWED_HOSTS: 'metrics.internal, *.example.com' }, /^WEB_ALLOWED_HOSTS: expected host names, without wildcards/],
    [{ MODELS: ' , ' }, /^MODELS: expected at least one model name/],
    [{ MODEL_REGISTRY_URL: 'ftp://mirror/registry.json' }, /^MODEL_REGISTRY_URL: expected a URL starting with http:\/\/ or https:\/\//],
    [{ PREVIEW_SECONDS: '600' }, /^PREVIEW_SECONDS: expected at most 120: a preview is a short excerpt, got "600"$/],
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

  describe('Slack OAuth installs', () => {
    const TOKEN_KEY = Buffer.alloc(32, 7).toString('base64');
    const oauth = { SLACK_CLIENT_ID: '123.456', SLACK_CLIENT_SECRET: 'client-secret', SLACK_STATE_SECRET: 'state-secret', SLACK_TOKEN_KEY: TOKEN_KEY, SLACK_SIGNING_SECRET: 'signing' };

    it('enable Slack without a bot token, with the token key decoded and the redirect path served', () => {
      const slack = parseConfig(oauth).slack;
      expect(slack?.botToken).toBeUndefined();
      expect(slack?.oauth).toMatchObject({ clientId: '123.456', clientSecret: 'client-secret', stateSecret: 'state-secret', redirectUri: undefined, redirectPath: '/slack/oauth_redirect' });
      expect(slack?.oauth?.tokenKey.equals(Buffer.alloc(32, 7))).toBe(true);
      const behindProxy = parseConfig({ ...oauth, SLACK_REDIRECT_URI: 'https://bot.example.com/hooks/slack/oauth' }).slack?.oauth;
      expect(behindProxy).toMatchObject({ redirectUri: 'https://bot.example.com/hooks/slack/oauth', redirectPath: '/hooks/slack/oauth' });
    });

    it('leave single-workspace Slack as it was, and ignore a token key on its own', () => {
      expect(parseConfig({ SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp', SLACK_TOKEN_KEY: TOKEN_KEY }).slack).toMatchObject({ botToken: 'xoxb', oauth: undefined });
      expect(parseConfig({ SLACK_TOKEN_KEY: TOKEN_KEY }).slack).toBeUndefined();
    });

    it.each([
      [{ ...oauth, SLACK_TOKEN_KEY: '' }, /^SLACK_TOKEN_KEY: required for OAuth installs, to encrypt the workspaces' tokens in the database; make one with `openssl rand -base64 32`$/],
      [{ ...oauth, SLACK_TOKEN_KEY: 'correct horse battery staple' }, /^SLACK_TOKEN_KEY: expected 32 random bytes in base64, made with `openssl rand -base64 32`$/],
      [{ ...oauth, SLACK_TOKEN_KEY: Buffer.alloc(16, 1).toString('base64') }, /^SLACK_TOKEN_KEY: expected 32 random bytes in base64/],
      [{ ...oauth, SLACK_STATE_SECRET: '' }, /^SLACK_STATE_SECRET: required with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET for OAuth installs$/],
      [{ ...oauth, SLACK_BOT_TOKEN: 'xoxb-1' }, /^SLACK_BOT_TOKEN: set either SLACK_BOT_TOKEN \(one workspace\) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET \(OAuth installs\), not both$/],
      [{ ...oauth, SLACK_SIGNING_SECRET: '' }, /^SLACK_SIGNING_SECRET: SLACK_CLIENT_ID needs SLACK_SIGNING_SECRET \(HTTP events\) or SLACK_APP_TOKEN/],
      [{ SLACK_SIGNING_SECRET: 'signing' }, /^SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set \(or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for OAuth installs\)$/],
    ])('refuse %o with a message naming the variable', (env, message) => {
      const problems = problemsOf(env);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(message);
    });

    it('name every missing piece at once when only the client id is set', () => {
      const problems = problemsOf({ SLACK_CLIENT_ID: '123.456', SLACK_APP_TOKEN: 'xapp' });
      expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET', 'SLACK_TOKEN_KEY']);
    });

    it('never repeat the token key or the OAuth secrets in messages', () => {
      const problems = problemsOf({ SLACK_TOKEN_KEY: 'hunter2-not-a-key', SLACK_CLIENT_SECRET: 'client-s3cret', SLACK_APP_TOKEN: 'xapp' });
      expect(problems.join('\n')).not.toMatch(/hunter2|s3cret/);
    });
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
