import { randomUUID } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import type { Config } from '../config.js';
import { Separation, SeparationRequest, platformMessageSchema, requestOptionsSchema, requestSourceSchema } from '../db/entities/index.js';
import { PLATFORMS } from '../db/entities/tenant.js';
import { UserError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { JobProducer } from '../queue/job-producer.js';
import type { SeparateJobData } from '../queue/jobs.js';
import { precheckQuota, reserveQuota, settleQuota } from '../quotas/quota-ledger.js';
import { fetcherFor, sourceKeyOf, type SourceFetchers, type SourceInfo } from '../sources.js';
import { ensureTenant, lockTenant } from '../tenants.js';
import { requireServedModel } from '../workers/model-availability.js';
import type { WorkerDirectory } from '../workers/worker-directory.js';
import { fairPriority } from './fairness.js';
import { QUOTA_LIMITS, quotaRefusals } from '../metrics.js';

export const submitInputSchema = z.object({
  platform: z.enum(PLATFORMS),
  /** Guild (Discord) or team (Slack) id. */
  tenantId: z.string().min(1).max(64),
  tenantName: z.string().max(200).optional(),
  userId: z.string().min(1).max(64),
  channelId: z.string().min(1).max(64),
  /** Whatever the adapter needs to find its message again (interaction token, message ts, ...). */
  platformMessage: platformMessageSchema.default({}),
  source: requestSourceSchema,
  model: z.string().min(1).max(100).optional(),
  options: requestOptionsSchema.default({ stems: 'all', format: 'mp3' }),
});
export type SubmitInput = z.input<typeof submitInputSchema>;

export interface SubmitOutcome {
  requestId: string;
  title: string;
  durationSeconds: number;
  /** `cached`: the stems exist and only need rendering; `attached`: the same separation is already running. */
  reuse: 'none' | 'cached' | 'attached';
  /** Separations waiting ahead of this one (0 when it is next, or cached). */
  position: number;
}

export interface SubmitDeps {
  em: EntityManager;
  config: Config;
  fetchers: SourceFetchers;
  producer: JobProducer;
  workers: WorkerDirectory;
  logger: Logger;
  now?: () => Date;
}

/** How many times a submit retries after losing the "one live separation per source" race. */
const DEDUPE_RETRIES = 3;

interface Admitted {
  request: SeparationRequest;
  separation: Separation;
  reuse: SubmitOutcome['reuse'];
  priority: number;
}

/**
 * A user asked for stems. In order: validate, check the limits that need no track length, describe
 * the source (refusals cost nothing), then in one transaction with the guild's row locked: reuse a
 * finished or running separation of the same source and model, check and reserve the quota, record
 * the request. Only then is work enqueued.
 */
export async function submit(deps: SubmitDeps, raw: SubmitInput): Promise<SubmitOutcome> {
  try {
    return await admitRequest(deps, raw);
  } catch (error) {
    if (error instanceof UserError && (QUOTA_LIMITS as readonly string[]).includes(error.code)) quotaRefusals.inc({ limit: error.code });
    throw error;
  }
}

async function admitRequest(deps: SubmitDeps, raw: SubmitInput): Promise<SubmitOutcome> {
  const parsed = submitInputSchema.safeParse(raw);
  if (!parsed.success) throw new UserError('bad_request', `That request is incomplete: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}.`);
  const input = parsed.data;
  if (input.options.stems === 'single' && !input.options.stem) throw new UserError('stem_missing', 'Name the stem you want, like vocals or drums.');
  // The operator's first allowed model is the default (htdemucs unless configured otherwise).
  const model = input.model ?? deps.config.quotaDefaults.allowedModels[0] ?? 'htdemucs';
  const lookup = deps.em.fork();
  const tenant = await ensureTenant(lookup, { platform: input.platform, externalId: input.tenantId, name: input.tenantName });
  // The limits that need no track length go first: a user in cooldown or a guild at its limits
  // costs no download, probe or YouTube lookup. admit() checks them all again, under the lock. A
  // source already separated or being separated costs no minutes there, so none are asked for here.
  const reusable = await lookup.count(Separation, { sourceKey: sourceKeyOf(input.source), model, state: { $in: ['queued', 'running', 'completed'] } });
  await precheckQuota(lookup, { tenant, userId: input.userId, model, free: reusable > 0, now: deps.now?.() ?? new Date(), defaults: deps.config.quotaDefaults });
  await requireServedModel(deps.workers, model);
  const info = await fetcherFor(deps.fetchers, input.source).inspect(input.source);

  for (let attempt = 1; ; attempt += 1) {
    try {
      const admitted = await deps.em.fork().transactional((em) => admit(em as EntityManager, deps, input, model, info, tenant.id));
      return await enqueue(deps, admitted, info);
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException) || attempt >= DEDUPE_RETRIES) throw error;
      deps.logger.debug({ attempt }, 'lost the race to create a separation; attaching instead');
    }
  }
}

async function admit(em: EntityManager, deps: SubmitDeps, input: z.output<typeof submitInputSchema>, model: string, info: SourceInfo, tenantId: string): Promise<Admitted> {
  const now = deps.now?.() ?? new Date();
  const tenant = await lockTenant(em, tenantId);
  const sourceKey = sourceKeyOf(input.source);
  const live = await em.findOne(Separation, { sourceKey, model, state: { $in: ['queued', 'running', 'completed'] } });
  const reuse: SubmitOutcome['reuse'] = !live ? 'none' : live.state === 'completed' ? 'cached' : 'attached';
  const requestId = randomUUID();
  const audioSeconds = Math.ceil(info.durationSeconds);
  // Limits and priority are read before this request exists: queries auto-flush pending rows.
  await reserveQuota(em, { tenant, userId: input.userId, requestId, model, audioSeconds, free: reuse !== 'none', now, defaults: deps.config.quotaDefaults });
  const priority = await fairPriority(em, tenant.id);
  const separation = live ?? em.create(Separation, { sourceKey, model, title: info.title, durationSeconds: info.durationSeconds, createdAt: now });
  const request = em.create(SeparationRequest, {
    id: requestId,
    tenant,
    userId: input.userId,
    channelId: input.channelId,
    platformMessage: input.platformMessage,
    source: input.source,
    model,
    options: input.options,
    separation,
    chargedSeconds: reuse === 'none' ? audioSeconds : 0,
    createdAt: now,
  });
  await em.flush();
  return { request, separation, reuse, priority };
}

async function enqueue(deps: SubmitDeps, admitted: Admitted, info: SourceInfo): Promise<SubmitOutcome> {
  const { request, separation, reuse, priority } = admitted;
  try {
    if (reuse === 'none') {
      const preview = previewOf(request, deps.config.previewSeconds);
      await deps.producer.enqueueSeparation({ separationId: separation.id, source: request.source, model: request.model, ...(preview ? { preview } : {}) }, { priority });
    } else {
      // A request that joined a running separation just as it finished would be missed by the
      // relay (it renders the requests it sees then): look again. Render job ids dedupe a double add.
      const state = reuse === 'cached' ? 'completed' : (await deps.em.fork().findOneOrFail(Separation, separation.id, { fields: ['state', 'errorMessage'] })).state;
      if (state === 'completed') await deps.producer.enqueueRender({ requestId: request.id, separationId: separation.id, options: request.options }, { priority });
      else if (state === 'failed' || state === 'cancelled') throw new UserError('separation_failed', 'That track just failed to separate for someone else; try again in a minute.');
    }
  } catch (error) {
    await abandon(deps.em, request.id);
    if (error instanceof UserError) throw error;
    deps.logger.error({ err: error, requestId: request.id }, 'could not enqueue an admitted request');
    throw new UserError('queue_unavailable', 'The job queue is not reachable right now; try again in a minute. Nothing was charged.', { cause: error });
  }
  const position = reuse === 'cached' ? 0 : await deps.em.fork().count(Separation, { state: 'queued', createdAt: { $lt: separation.createdAt } });
  deps.logger.info({ requestId: request.id, separationId: separation.id, reuse, priority }, 'request admitted');
  return { requestId: request.id, title: info.title, durationSeconds: info.durationSeconds, reuse, position };
}

/**
 * The excerpt a new separation makes first, from the link's `t=` (the worker places it a third of
 * the way in otherwise): none when the asker said `preview:false` or the operator set no length.
 * It comes from the same download and separation, so it costs no quota.
 */
function previewOf(request: SeparationRequest, seconds: number): SeparateJobData['preview'] {
  if (seconds <= 0 || request.options.preview === false) return undefined;
  const startSeconds = request.source.kind === 'youtube' ? request.source.startSeconds : undefined;
  return startSeconds === undefined ? { seconds } : { seconds, startSeconds };
}

/** An admitted request that nothing will run: it fails at once and its quota goes back. */
async function abandon(em: EntityManager, requestId: string): Promise<void> {
  await em.fork().transactional(async (tx) => {
    const fork = tx as EntityManager;
    await fork.nativeUpdate(SeparationRequest, { id: requestId, state: { $in: ['queued', 'running'] } }, { state: 'failed', errorCode: 'not_queued', finishedAt: new Date() });
    await settleQuota(fork, requestId, 'refund');
  });
}
