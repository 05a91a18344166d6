import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { isStorageKey } from './storage/contract.js';

/**
 * Every setting stembot reads, as one zod schema over the environment. The README's configuration
 * table and .env.example are checked against this object by tests, so a variable is documented
 * exactly once: here, in its `.describe()`.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** YOUTUBE_DOWNLOADER's choices: one downloader, or `auto` (both, yt-dlp first when installed). */
export const YOUTUBE_DOWNLOADERS = ['auto', 'ytdl', 'yt-dlp'] as const;

const optionalText = () =>
  z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .optional();

const positiveInt = (fallback: number) =>
  z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').positive('expected a number above 0').default(fallback);

const urlWithProtocols = (protocols: readonly string[], example: string) =>
  z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .superRefine((value, ctx) => {
      if (value === undefined) return;
      if (!URL.canParse(value)) {
        ctx.addIssue({ code: 'custom', message: `expected a URL like ${example}` });
      } else if (!protocols.includes(new URL(value).protocol)) {
        ctx.addIssue({ code: 'custom', message: `expected a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}, like ${example}` });
      }
    })
    .optional();

export const envSchema = z.object({
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info').describe('Log level (fatal, error, warn, info, debug, trace, silent).'),
  LOG_PRETTY: z
    .enum(['auto', 'true', 'false'], { error: 'expected auto, true or false' })
    .default('auto')
    .describe('Human-readable log lines; `auto` means pretty when stdout is a terminal, JSON otherwise.'),
  DATA_DIR: z.string().trim().min(1, 'expected a directory path').default('./data').describe('Where the embedded database, stored files and models live when nothing else is configured.'),
  DATABASE_URL: urlWithProtocols(['postgres:', 'postgresql:'], 'postgres://user:pass@host:5432/stembot').describe(
    'PostgreSQL connection URL. Unset: an embedded PGlite database under DATA_DIR.',
  ),
  REDIS_URL: urlWithProtocols(['redis:', 'rediss:'], 'redis://127.0.0.1:6379').describe(
    'Redis URL for the job queue. Unset: the queue runs on PostgreSQL (DATABASE_URL or the embedded database).',
  ),
  QUEUE_NAMESPACE: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_]{0,40}$/, 'expected lower-case letters, digits and _ (starting with a letter)')
    .default('stembot')
    .describe('Namespace of the job queue: the Redis key prefix, or the PostgreSQL schema holding the queue tables.'),
  STORAGE_DIR: optionalText().describe('Directory for separated stems. Default: DATA_DIR/files.'),
  STORAGE_URL: z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .superRefine((value, ctx) => {
      const problem = value === undefined ? undefined : storageUrlProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .optional()
    .describe(
      'S3-compatible bucket for stored stems, as s3://bucket/optional/prefix (AWS S3, MinIO, R2 and the like), so that bots, workers and the web role can run on different machines. Unset: the directory STORAGE_DIR.',
    ),
  S3_ENDPOINT: urlWithProtocols(['http:', 'https:'], 'http://127.0.0.1:9000').describe('URL of the S3-compatible service holding STORAGE_URL\'s bucket (MinIO, R2 and the like). Unset: AWS S3.'),
  S3_REGION: z.string().trim().min(1, 'expected a region name, like us-east-1').default('us-east-1').describe("Region of STORAGE_URL's bucket (S3-compatible services mostly accept any)."),
  S3_ACCESS_KEY_ID: optionalText().describe("Access key id for STORAGE_URL's bucket, with S3_SECRET_ACCESS_KEY. Unset: the AWS SDK's default credentials (AWS_* variables, profile, instance or task role)."),
  S3_SECRET_ACCESS_KEY: optionalText().describe('Secret access key that goes with S3_ACCESS_KEY_ID.'),
  S3_FORCE_PATH_STYLE: z
    .enum(['true', 'false'], { error: 'expected true or false' })
    .optional()
    .describe('Path-style bucket URLs (endpoint/bucket/key), which MinIO and most self-hosted services need. Default: true when S3_ENDPOINT is set, else false.'),
  MODELS_DIR: optionalText().describe('Directory for ONNX model files. Default: DATA_DIR/models.'),
  TEMP_DIR: optionalText().describe("Directory for decoded audio while a track is separated; each process keeps a folder of its own there, and folders of processes that died are removed at start. Up to 1 GiB of stem spool files are kept in `spool-files/` between separations and rewritten in place (none when the disk has less free than `DISK_MIN_FREE_MB` plus that). Default: the system's temp directory/stembot."),
  DISK_MIN_FREE_MB: z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(0, 'expected 0 or more')
    .default(512)
    .describe('Disk space, in MB, that jobs leave free in TEMP_DIR and STORAGE_DIR; a track that would need more is refused as disk_full.'),
  FFMPEG_PATH: optionalText().describe('Path to the ffmpeg binary. Default: ffmpeg on the PATH.'),
  YOUTUBE_DOWNLOADER: z
    .enum(YOUTUBE_DOWNLOADERS, { error: `expected one of ${YOUTUBE_DOWNLOADERS.join(', ')}` })
    .default('auto')
    .describe(
      'What downloads YouTube audio: `yt-dlp` (the program, when installed), `ytdl` (the built-in @distube/ytdl-core), or `auto`: yt-dlp when it is found, else ytdl, each trying the other once when YouTube refuses it or it cannot read YouTube\'s player.',
    ),
  YOUTUBE_COOKIES: optionalText().describe(
    "Path to a Netscape cookies.txt exported from a browser signed in to YouTube, sent with every YouTube request so YouTube does not ask this server to confirm it is not a bot. A secret: it must be readable by stembot's user only (chmod 600).",
  ),
  YTDLP_PATH: optionalText().describe('Path to the yt-dlp program. Default: yt-dlp on the PATH, if any.'),
  ONNX_DEVICE: z.enum(['auto', 'cpu', 'cuda'], { error: 'expected auto, cpu or cuda' }).default('auto').describe('Where models run: cuda, cpu, or auto (CUDA when available, else CPU).'),
  ONNX_THREADS: z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'expected 0 (one per physical core) or more').default(0).describe('Intra-op threads for onnxruntime; 0 uses one per physical core (hyper-threads left out).'),
  WORKER_CONCURRENCY: positiveInt(1).describe('Separation jobs one worker process runs at once.'),
  JOB_LOCK_SECONDS: positiveInt(30).describe('Seconds a worker holds a job without renewing its lock; a worker that dies loses its job to another after about this long.'),
  JOB_STALLED_SECONDS: positiveInt(600).describe(
    'Seconds a job a worker took may go without progress before its request fails with a refund (its worker died and no other took it over); more than twice JOB_LOCK_SECONDS.',
  ),
  JOB_RETRY_DELAY_SECONDS: positiveInt(10).describe('Seconds before a job that failed for a passing reason is tried again (doubled for the third try).'),
  ROLES: z
    .string()
    .trim()
    .default('all')
    .describe('Comma-separated roles this process runs: relay, worker, discord, slack, web, or all (the --role flag overrides it).'),
  WEB_PORT: z.coerce
    .number({ error: 'expected a port number' })
    .int('expected a port number')
    .min(0, 'expected a port from 0 to 65535')
    .max(65535, 'expected a port from 0 to 65535')
    .default(8080)
    .describe('Port of the web role: /healthz, /readyz and /metrics (0 picks a free port and logs it).'),
  WEB_HOST: z
    .string()
    .trim()
    .min(1, 'expected an address to listen on, like 127.0.0.1')
    .default('127.0.0.1')
    .describe('Address the web role listens on; loopback by default. Set 0.0.0.0 only in a container or behind a firewall.'),
  WEB_ALLOWED_HOSTS: z
    .string()
    .trim()
    .default('')
    .refine((value) => !splitList(value).some((host) => host.includes('*')), 'expected host names, without wildcards')
    .describe(
      'Comma-separated host names (optionally with :port) the web role answers besides localhost and 127.0.0.1, such as the name Prometheus scrapes it by; any other Host header is refused (DNS rebinding).',
    ),
  MODELS: z
    .string()
    .trim()
    .default('htdemucs')
    .describe('Comma-separated models a worker serves; a built-in one it lacks is downloaded and verified at start, and the worker takes jobs once it has them all.'),
  MODEL_REGISTRY_URL: urlWithProtocols(['http:', 'https:'], 'https://models.example.com/registry.json').describe(
    'URL of a JSON model registry (a mirror) whose entries replace the built-in download URLs and checksums by name. Default: the built-in registry.',
  ),
  WORKER_HEARTBEAT_SECONDS: positiveInt(10).describe('Seconds between a worker\'s announcements; a worker silent for two of them is taken for gone.'),
  PREVIEW_SECONDS: z.coerce
    .number({ error: 'expected a whole number' })
    .int('expected a whole number')
    .min(0, 'expected 0 (no previews) or more')
    .max(120, 'expected at most 120: a preview is a short excerpt')
    .default(30)
    .describe("Seconds of a preview: an excerpt (from the link's t=, else a third of the way in) separated first and posted while the whole song runs, for tracks at least twice as long; 0 turns previews off."),
  QUOTA_MAX_TRACK_MINUTES: positiveInt(15).describe('Longest track a guild may separate, in minutes; guild admins may lower it, not raise it.'),
  QUOTA_DAILY_MINUTES: positiveInt(60).describe('Audio minutes a guild may separate per UTC day; guild admins may lower it, not raise it.'),
  QUOTA_MONTHLY_MINUTES: positiveInt(600).describe('Audio minutes a guild may separate per UTC month; guild admins may lower it, not raise it.'),
  QUOTA_CONCURRENT_JOBS: positiveInt(2).describe('Jobs a guild may have queued or running at once; guild admins may lower it, not raise it.'),
  QUOTA_USER_COOLDOWN_SECONDS: z.coerce.number({ error: 'expected a whole number' }).int('expected a whole number').min(0, 'expected 0 or more').default(30).describe('Seconds a user waits between two requests; guild admins may raise it, not lower it.'),
  QUOTA_ALLOWED_MODELS: z
    .string()
    .trim()
    .default('htdemucs')
    .describe('Comma-separated models a guild may use (the first is the default); guild admins may allow fewer of them, no others.'),
  PUBLIC_URL: urlWithProtocols(['http:', 'https:'], 'https://stembot.example.com').describe(
    'How the outside world reaches the web role (a reverse proxy in front of WEB_PORT); links to stems pages start with it. Default: the web role\'s own address.',
  ),
  LINK_TTL_HOURS: positiveInt(24).describe('Hours a link to a stems page (and its files) works; never longer than RETENTION_DAYS keeps the files.'),
  LINK_SECRET: optionalText()
    .refine((value) => value === undefined || value.length >= 32, 'expected at least 32 characters, like `openssl rand -base64 32` makes')
    .describe('Key that signs links to stems pages. Default: a random key made once and kept in the database, shared by every process on it.'),
  RETENTION_DAYS: positiveInt(7).describe('Days stored stems and finished requests are kept (the usage ledger is kept).'),
  DISCORD_TOKEN: optionalText().describe('Discord bot token; with DISCORD_APPLICATION_ID it enables the Discord bot.'),
  DISCORD_APPLICATION_ID: optionalText().describe('Discord application id (for command registration).'),
  DISCORD_API_URL: urlWithProtocols(['http:', 'https:'], 'https://discord.com/api').describe('Discord REST API base URL. Default: Discord itself.'),
  SLACK_BOT_TOKEN: optionalText().describe('Slack bot token (xoxb-...) for one workspace; with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN it enables the Slack bot.'),
  SLACK_SIGNING_SECRET: optionalText().describe('Slack signing secret, for the HTTP events endpoint.'),
  SLACK_APP_TOKEN: optionalText().describe('Slack app-level token (xapp-...), for Socket Mode.'),
  SLACK_PORT: positiveInt(3000).describe('Port of the Slack HTTP endpoint: events (not used in Socket Mode), and the OAuth install pages /slack/install and /slack/oauth_redirect.'),
  SLACK_API_URL: urlWithProtocols(['http:', 'https:'], 'https://slack.com/api/').describe('Slack Web API base URL. Default: Slack itself.'),
  SLACK_CLIENT_ID: optionalText().describe(
    'Slack app client id; with SLACK_CLIENT_SECRET, SLACK_STATE_SECRET and SLACK_TOKEN_KEY it lets any workspace install the bot through OAuth (instead of SLACK_BOT_TOKEN).',
  ),
  SLACK_CLIENT_SECRET: optionalText().describe('Slack app client secret, for OAuth installs.'),
  SLACK_STATE_SECRET: optionalText().describe('Any long random string; signs the OAuth state so an install cannot be forged or replayed. Changing it only voids installs in progress.'),
  SLACK_TOKEN_KEY: z
    .string()
    .trim()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || decodeTokenKey(value) !== undefined, 'expected 32 random bytes in base64, made with `openssl rand -base64 32`')
    .optional()
    .describe(
      "Key that encrypts the workspaces' Slack tokens in the database (AES-256-GCM), 32 random bytes in base64 (`openssl rand -base64 32`); required with SLACK_CLIENT_ID. Keep it: with another key every workspace must reinstall.",
    ),
  SLACK_REDIRECT_URI: urlWithProtocols(['http:', 'https:'], 'https://stembot.example.com/slack/oauth_redirect').describe(
    "Public URL of the OAuth redirect as registered with Slack (its path is served); needed when the app lists several redirect URLs. Default: Slack's registered one, served at /slack/oauth_redirect.",
  ),
});

export type EnvInput = z.input<typeof envSchema>;
type Env = z.output<typeof envSchema>;

export const ROLE_NAMES = ['relay', 'worker', 'discord', 'slack', 'web'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

const SECRET_VARIABLES = new Set([
  'DISCORD_TOKEN',
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'SLACK_CLIENT_SECRET',
  'SLACK_STATE_SECRET',
  'SLACK_TOKEN_KEY',
  'LINK_SECRET',
  'S3_SECRET_ACCESS_KEY',
  // A URL pasted with credentials in it must not be echoed back either.
  'STORAGE_URL',
  'DATABASE_URL',
  'REDIS_URL',
]);

/**
 * AES-256 needs exactly 32 bytes, which base64 writes as 43 characters and one `=`; anything else
 * (a passphrase, a truncated paste) is refused rather than stretched into a key.
 */
function decodeTokenKey(value: string): Buffer | undefined {
  return /^[A-Za-z0-9+/_-]{43}=?$/.test(value) ? Buffer.from(value, 'base64') : undefined;
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const STORAGE_URL_EXAMPLE = 's3://my-bucket/stembot';
/** S3's bucket naming rules (3 to 63 characters), which MinIO and R2 follow too. */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Why a STORAGE_URL cannot be used, or undefined when it can. */
function storageUrlProblem(value: string): string | undefined {
  if (!URL.canParse(value)) return `expected a bucket URL like ${STORAGE_URL_EXAMPLE}`;
  const url = new URL(value);
  if (url.protocol !== 's3:') {
    return `expected s3://bucket/optional/prefix, like ${STORAGE_URL_EXAMPLE}: only S3-compatible object storage is supported (leave STORAGE_URL unset to store files in STORAGE_DIR)`;
  }
  if (url.username || url.password) return 'expected no credentials in the URL: set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY';
  if (url.port || url.search || url.hash) return `expected only a bucket and a prefix, like ${STORAGE_URL_EXAMPLE}; the service's address goes in S3_ENDPOINT`;
  if (!BUCKET_NAME.test(url.hostname)) return 'expected a bucket name of 3 to 63 lower-case letters, digits, "." and "-", starting and ending with a letter or digit';
  const prefix = storagePrefix(value);
  if (prefix !== '' && !isStorageKey(prefix)) return 'expected a prefix of "/"-separated folder names made of letters, digits, "_", "." and "-", each starting with a letter or digit';
  return undefined;
}

/** The path after the bucket as written (URL parsing would resolve `..`), without its outer slashes. */
function storagePrefix(value: string): string {
  const rest = value.slice('s3://'.length);
  const slash = rest.indexOf('/');
  return slash === -1 ? '' : rest.slice(slash + 1).replace(/\/+$/, '');
}

const S3_ONLY_VARIABLES = ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE'] as const;

/** S3 settings are used with STORAGE_URL alone; the key id and its secret go together. */
function storageContradictions(env: Env): string[] {
  const problems: string[] = [];
  if (!env.STORAGE_URL) {
    for (const name of S3_ONLY_VARIABLES) if (env[name] !== undefined) problems.push(`${name}: only used with STORAGE_URL=s3://bucket/prefix; set STORAGE_URL too, or unset ${name} to store files in STORAGE_DIR`);
    return problems;
  }
  if (env.S3_ACCESS_KEY_ID && !env.S3_SECRET_ACCESS_KEY) problems.push('S3_SECRET_ACCESS_KEY: required when S3_ACCESS_KEY_ID is set');
  if (!env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY) problems.push('S3_ACCESS_KEY_ID: required when S3_SECRET_ACCESS_KEY is set');
  return problems;
}

/** Where stored files go: STORAGE_DIR, or the bucket STORAGE_URL names (checked by storageUrlProblem already). */
function storageSettings(env: Env, dir: string) {
  if (!env.STORAGE_URL) return { kind: 'local' as const, dir };
  const url = new URL(env.STORAGE_URL);
  return {
    kind: 's3' as const,
    bucket: url.hostname,
    prefix: storagePrefix(env.STORAGE_URL),
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    credentials: env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY } : undefined,
    forcePathStyle: env.S3_FORCE_PATH_STYLE === undefined ? env.S3_ENDPOINT !== undefined : env.S3_FORCE_PATH_STYLE === 'true',
  };
}

const SLACK_OAUTH_VARIABLES = ['SLACK_CLIENT_ID', 'SLACK_CLIENT_SECRET', 'SLACK_STATE_SECRET'] as const;

/**
 * Slack runs in one of two ways: one workspace with SLACK_BOT_TOKEN, or any number of workspaces
 * installing through OAuth (Bolt refuses a fixed token next to OAuth, so both at once is an error).
 */
function slackContradictions(env: Env): string[] {
  const problems: string[] = [];
  const oauth = SLACK_OAUTH_VARIABLES.some((name) => env[name] !== undefined);
  if (oauth) {
    const missing = SLACK_OAUTH_VARIABLES.filter((name) => env[name] === undefined);
    for (const name of missing) problems.push(`${name}: required with ${SLACK_OAUTH_VARIABLES.filter((other) => other !== name).join(' and ')} for OAuth installs`);
    if (!env.SLACK_TOKEN_KEY) {
      problems.push("SLACK_TOKEN_KEY: required for OAuth installs, to encrypt the workspaces' tokens in the database; make one with `openssl rand -base64 32`");
    }
    if (env.SLACK_BOT_TOKEN) problems.push('SLACK_BOT_TOKEN: set either SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET (OAuth installs), not both');
  }
  const mode = env.SLACK_BOT_TOKEN ? 'SLACK_BOT_TOKEN' : oauth ? 'SLACK_CLIENT_ID' : undefined;
  if (mode && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
    problems.push(`SLACK_SIGNING_SECRET: ${mode} needs SLACK_SIGNING_SECRET (HTTP events) or SLACK_APP_TOKEN (Socket Mode)`);
  }
  if (!mode && (env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN)) {
    problems.push('SLACK_BOT_TOKEN: required when SLACK_SIGNING_SECRET or SLACK_APP_TOKEN is set (or SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET for OAuth installs)');
  }
  return problems;
}

/** OAuth settings once contradictions() has passed: all present, or Slack runs on SLACK_BOT_TOKEN. */
function slackOAuth(env: Env) {
  const tokenKey = env.SLACK_TOKEN_KEY === undefined ? undefined : decodeTokenKey(env.SLACK_TOKEN_KEY);
  if (!env.SLACK_CLIENT_ID || !env.SLACK_CLIENT_SECRET || !env.SLACK_STATE_SECRET || !tokenKey) return undefined;
  return {
    clientId: env.SLACK_CLIENT_ID,
    clientSecret: env.SLACK_CLIENT_SECRET,
    stateSecret: env.SLACK_STATE_SECRET,
    tokenKey,
    redirectUri: env.SLACK_REDIRECT_URI,
    redirectPath: env.SLACK_REDIRECT_URI ? new URL(env.SLACK_REDIRECT_URI).pathname : '/slack/oauth_redirect',
  };
}

/** Problems no single variable shows on its own. */
function contradictions(env: Env): string[] {
  const problems: string[] = [];
  if (env.DISCORD_TOKEN && !env.DISCORD_APPLICATION_ID) problems.push('DISCORD_APPLICATION_ID: required when DISCORD_TOKEN is set');
  if (!env.DISCORD_TOKEN && env.DISCORD_APPLICATION_ID) problems.push('DISCORD_TOKEN: required when DISCORD_APPLICATION_ID is set');
  problems.push(...slackContradictions(env));
  problems.push(...storageContradictions(env));
  if (env.QUOTA_DAILY_MINUTES > env.QUOTA_MONTHLY_MINUTES) {
    problems.push(`QUOTA_DAILY_MINUTES: ${env.QUOTA_DAILY_MINUTES} is more than QUOTA_MONTHLY_MINUTES (${env.QUOTA_MONTHLY_MINUTES}); lower it or raise the monthly limit`);
  }
  if (env.QUOTA_MAX_TRACK_MINUTES > env.QUOTA_DAILY_MINUTES) {
    problems.push(`QUOTA_MAX_TRACK_MINUTES: ${env.QUOTA_MAX_TRACK_MINUTES} is more than QUOTA_DAILY_MINUTES (${env.QUOTA_DAILY_MINUTES}), so no track that long could ever fit`);
  }
  if (env.JOB_STALLED_SECONDS <= 2 * env.JOB_LOCK_SECONDS) {
    // BullMQ hands a dead worker's job to a live one after about the lock time: that must get its chance first.
    problems.push(`JOB_STALLED_SECONDS: ${env.JOB_STALLED_SECONDS} must be more than twice JOB_LOCK_SECONDS (${env.JOB_LOCK_SECONDS})`);
  }
  if (splitList(env.QUOTA_ALLOWED_MODELS).length === 0) problems.push('QUOTA_ALLOWED_MODELS: expected at least one model name, like htdemucs');
  if (splitList(env.MODELS).length === 0) problems.push('MODELS: expected at least one model name, like htdemucs');
  const roles = splitList(env.ROLES);
  const unknown = roles.filter((role) => role !== 'all' && !(ROLE_NAMES as readonly string[]).includes(role));
  if (roles.length === 0 || unknown.length > 0) problems.push(`ROLES: expected all or a comma-separated list of ${ROLE_NAMES.join(', ')}${unknown.length ? `, got ${unknown.join(', ')}` : ''}`);
  return problems;
}

function toConfig(env: Env) {
  const dataDir = path.resolve(env.DATA_DIR);
  const roles = splitList(env.ROLES);
  const storageDir = path.resolve(env.STORAGE_DIR ?? path.join(dataDir, 'files'));
  return {
    logLevel: env.LOG_LEVEL,
    logPretty: env.LOG_PRETTY === 'auto' ? undefined : env.LOG_PRETTY === 'true',
    dataDir,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    queueNamespace: env.QUEUE_NAMESPACE,
    /** The local directory; where stems are stored unless `storage` names a bucket. */
    storageDir,
    storage: storageSettings(env, storageDir),
    modelsDir: path.resolve(env.MODELS_DIR ?? path.join(dataDir, 'models')),
    tempDir: path.resolve(env.TEMP_DIR ?? path.join(tmpdir(), 'stembot')),
    diskMinFreeBytes: env.DISK_MIN_FREE_MB * 1_000_000,
    ffmpegPath: env.FFMPEG_PATH,
    youtube: {
      downloader: env.YOUTUBE_DOWNLOADER,
      cookiesPath: env.YOUTUBE_COOKIES === undefined ? undefined : path.resolve(env.YOUTUBE_COOKIES),
      ytdlpPath: env.YTDLP_PATH === undefined ? undefined : path.resolve(env.YTDLP_PATH),
    },
    onnx: { device: env.ONNX_DEVICE, threads: env.ONNX_THREADS },
    worker: {
      concurrency: env.WORKER_CONCURRENCY,
      lockSeconds: env.JOB_LOCK_SECONDS,
      stalledSeconds: env.JOB_STALLED_SECONDS,
      retryDelaySeconds: env.JOB_RETRY_DELAY_SECONDS,
      heartbeatSeconds: env.WORKER_HEARTBEAT_SECONDS,
      models: splitList(env.MODELS),
    },
    previewSeconds: env.PREVIEW_SECONDS,
    modelRegistryUrl: env.MODEL_REGISTRY_URL,
    web: { port: env.WEB_PORT, host: env.WEB_HOST, allowedHosts: splitList(env.WEB_ALLOWED_HOSTS) },
    roles: (roles.includes('all') ? [...ROLE_NAMES] : roles) as RoleName[],
    quotaDefaults: {
      maxTrackSeconds: env.QUOTA_MAX_TRACK_MINUTES * 60,
      dailySeconds: env.QUOTA_DAILY_MINUTES * 60,
      monthlySeconds: env.QUOTA_MONTHLY_MINUTES * 60,
      concurrentJobs: env.QUOTA_CONCURRENT_JOBS,
      userCooldownSeconds: env.QUOTA_USER_COOLDOWN_SECONDS,
      allowedModels: splitList(env.QUOTA_ALLOWED_MODELS),
    },
    retentionDays: env.RETENTION_DAYS,
    links: { publicUrl: env.PUBLIC_URL, ttlHours: env.LINK_TTL_HOURS, secret: env.LINK_SECRET },
    discord:
      env.DISCORD_TOKEN && env.DISCORD_APPLICATION_ID
        ? { token: env.DISCORD_TOKEN, applicationId: env.DISCORD_APPLICATION_ID, apiUrl: env.DISCORD_API_URL }
        : undefined,
    slack: slackSettings(env),
  };
}

function slackSettings(env: Env) {
  const oauth = slackOAuth(env);
  if (!env.SLACK_BOT_TOKEN && !oauth) return undefined;
  return {
    /** The one workspace's token; absent with OAuth, where each workspace's comes from its installation. */
    botToken: env.SLACK_BOT_TOKEN,
    signingSecret: env.SLACK_SIGNING_SECRET,
    appToken: env.SLACK_APP_TOKEN,
    port: env.SLACK_PORT,
    apiUrl: env.SLACK_API_URL,
    oauth,
  };
}

export type Config = ReturnType<typeof toConfig>;

/** One line per zod issue, naming the variable; a secret's value is never echoed back. */
function describeIssue(issue: z.core.$ZodIssue, env: Record<string, string | undefined>): string {
  const variable = String(issue.path[0] ?? 'environment');
  const raw = env[variable];
  const shown = raw === undefined || SECRET_VARIABLES.has(variable) ? '' : `, got ${JSON.stringify(raw)}`;
  return `${variable}: ${issue.message}${shown}`;
}

/** Validates the environment; throws ConfigError listing every problem at once. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const known = Object.fromEntries(Object.keys(envSchema.shape).map((key) => [key, env[key]]));
  const parsed = envSchema.safeParse(known);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((issue) => describeIssue(issue, known)));
  const problems = contradictions(parsed.data);
  if (problems.length > 0) throw new ConfigError(problems);
  return toConfig(parsed.data);
}

/**
 * The process environment over an optional `.env` file (the environment wins, as with dotenv).
 * Node's own parser is used: it is the same format and one dependency fewer.
 */
export function readEnvironment(cwd: string, processEnv: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  let fileEnv: Record<string, string> = {};
  try {
    fileEnv = parseEnv(readFileSync(path.join(cwd, '.env'), 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError([`.env: could not be read (${(error as Error).message})`]);
  }
  return { ...fileEnv, ...processEnv };
}

/** Names of the chat platforms a config enables, for the start-up log line. */
export function enabledPlatforms(config: Config): string[] {
  return [config.discord ? 'discord' : undefined, config.slack ? 'slack' : undefined].filter((p): p is string => p !== undefined);
}
