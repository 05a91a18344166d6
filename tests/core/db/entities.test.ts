import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../core/config.js';
import { Delivery, QuotaChange, Separation, SeparationRequest, Tenant, UsageEntry } from '../../../core/db/entities/index.js';
import { openRuntime, type Runtime } from '../../../core/runtime.js';
import { captureLogger, createTestDatabase, uniqueNamespace, type TestDatabase } from '../../support/services.js';

let database: TestDatabase;
let runtime: Runtime;

beforeAll(async () => {
  database = await createTestDatabase();
  runtime = await openRuntime(parseConfig({ DATABASE_URL: database.url, QUEUE_NAMESPACE: uniqueNamespace() }), captureLogger().logger);
});
afterAll(async () => {
  await runtime.close();
  await database.drop();
});

const fork = () => runtime.orm.em.fork() as EntityManager;

async function newTenant(em: EntityManager, externalId: string): Promise<Tenant> {
  const tenant = em.create(Tenant, { platform: 'discord', externalId, name: `Guild ${externalId}`, quotaOverrides: { dailySeconds: 1800 } });
  await em.flush();
  return tenant;
}

/** The plan PostgreSQL picks when sequential scans are priced out: proves an index can serve the query. */
async function planOf(em: EntityManager, sql: string, params: unknown[]): Promise<string> {
  return em.transactional(async (tx) => {
    await tx.execute('set local enable_seqscan = off');
    const rows = await tx.execute<{ 'QUERY PLAN': string }[]>(`explain ${sql}`, params);
    return rows.map((row) => row['QUERY PLAN']).join('\n');
  });
}

describe('entities', () => {
  it('round-trip a tenant, a request with its separation, a delivery and the ledger', async () => {
    const em = fork();
    const tenant = await newTenant(em, 'guild-round-trip');
    const separation = em.create(Separation, { sourceKey: 'youtube:dQw4w9WgXcQ', model: 'htdemucs', stems: [{ name: 'vocals', storageKey: 'a/vocals.flac', bytes: 10 }] });
    const request = em.create(SeparationRequest, {
      tenant,
      userId: 'u1',
      channelId: 'c1',
      platformMessage: { interactionToken: 'tok', messageId: 'm1' },
      source: { kind: 'youtube', videoId: 'dQw4w9WgXcQ', startSeconds: 42 },
      model: 'htdemucs',
      options: { stems: 'karaoke', format: 'flac' },
      separation,
      chargedSeconds: 212,
    });
    em.create(Delivery, { request, platform: 'discord' });
    em.create(UsageEntry, { tenant, requestId: request.id, userId: 'u1', kind: 'reserve', audioSeconds: 212 });
    em.create(QuotaChange, { tenant, changedBy: 'admin', field: 'dailySeconds', oldValue: null, newValue: 1800 });
    await em.flush();

    const read = fork();
    const loaded = await read.findOneOrFail(SeparationRequest, request.id, { populate: ['tenant', 'separation'] });
    expect(loaded.source).toEqual({ kind: 'youtube', videoId: 'dQw4w9WgXcQ', startSeconds: 42 });
    expect(loaded.options).toEqual({ stems: 'karaoke', format: 'flac' });
    expect(loaded.state).toBe('queued');
    expect(loaded.tenant.quotaOverrides).toEqual({ dailySeconds: 1800 });
    expect(loaded.separation?.stems).toEqual([{ name: 'vocals', storageKey: 'a/vocals.flac', bytes: 10 }]);
    const delivery = await read.findOneOrFail(Delivery, { request: request.id });
    expect(delivery.state).toBe('pending');
    expect(await read.count(UsageEntry, { requestId: request.id })).toBe(1);
    expect((await read.findOneOrFail(QuotaChange, { tenant: tenant.id })).newValue).toBe(1800);
  });

  it('keep one tenant per platform and external id', async () => {
    const em = fork();
    await newTenant(em, 'guild-unique');
    em.create(Tenant, { platform: 'discord', externalId: 'guild-unique', quotaOverrides: {} });
    await expect(em.flush()).rejects.toBeInstanceOf(UniqueConstraintViolationException);
    const other = fork();
    other.create(Tenant, { platform: 'slack', externalId: 'guild-unique', quotaOverrides: {} });
    await other.flush();
  });

  it('allow one live separation per source and model, but a new one after a failure', async () => {
    const em = fork();
    em.create(Separation, { sourceKey: 'youtube:aaaaaaaaaaa', model: 'htdemucs', state: 'failed', stems: [] });
    em.create(Separation, { sourceKey: 'youtube:aaaaaaaaaaa', model: 'htdemucs', state: 'running', stems: [] });
    em.create(Separation, { sourceKey: 'youtube:aaaaaaaaaaa', model: 'htdemucs_ft', state: 'running', stems: [] });
    await em.flush();
    const racing = fork();
    racing.create(Separation, { sourceKey: 'youtube:aaaaaaaaaaa', model: 'htdemucs', stems: [] });
    await expect(racing.flush()).rejects.toBeInstanceOf(UniqueConstraintViolationException);

    const cached = await fork().findOne(Separation, { sourceKey: 'youtube:aaaaaaaaaaa', model: 'htdemucs', state: { $in: ['queued', 'running', 'completed'] } });
    expect(cached?.state).toBe('running');
    const plan = await planOf(fork(), "select * from separation where source_key = ? and model = ? and state in ('queued', 'running', 'completed')", ['youtube:aaaaaaaaaaa', 'htdemucs']);
    expect(plan).toContain('separation_live_source_model_unique');
  });

  it("list a user's recent requests newest first, page by page, from an index", async () => {
    const em = fork();
    const tenant = await newTenant(em, 'guild-recent');
    const base = Date.parse('2026-11-01T00:00:00Z');
    for (let i = 0; i < 12; i += 1) {
      em.create(SeparationRequest, {
        tenant,
        userId: 'listener',
        channelId: 'c',
        source: { kind: 'youtube', videoId: `video${String(i).padStart(6, '0')}` },
        model: 'htdemucs',
        options: { stems: 'all', format: 'mp3' },
        createdAt: new Date(base + i * 60_000),
      });
    }
    em.create(SeparationRequest, { tenant, userId: 'someone-else', channelId: 'c', source: { kind: 'youtube', videoId: 'otheruser00' }, model: 'htdemucs', options: { stems: 'all', format: 'mp3' } });
    await em.flush();

    const pages: string[][] = [];
    let cursor: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await fork().find(
        SeparationRequest,
        {
          tenant: tenant.id,
          userId: 'listener',
          ...(cursor ? { $or: [{ createdAt: { $lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { $lt: cursor.id } }] } : {}),
        },
        { orderBy: { createdAt: 'desc', id: 'desc' }, limit: 5 },
      );
      if (page.length === 0) break;
      pages.push(page.map((request) => (request.source.kind === 'youtube' ? request.source.videoId : '')));
      const last = page[page.length - 1] as SeparationRequest;
      cursor = { createdAt: last.createdAt, id: last.id };
    }
    expect(pages.map((page) => page.length)).toEqual([5, 5, 2]);
    expect(pages[0]?.[0]).toBe('video000011');
    expect(pages[2]?.[1]).toBe('video000000');

    const plan = await planOf(fork(), 'select * from request where tenant_id = ? and user_id = ? order by created_at desc, id desc limit 5', [tenant.id, 'listener']);
    expect(plan).toContain('request_tenant_user_recent_index');
  });

  it("sum a guild's usage in a day window from the ledger, from an index", async () => {
    const em = fork();
    const tenant = await newTenant(em, 'guild-usage');
    const day = Date.parse('2026-11-20T00:00:00Z');
    const rows: [string, 'reserve' | 'refund' | 'commit', number, number][] = [
      ['11111111-1111-4111-8111-111111111111', 'reserve', 300, day - 1000],
      ['22222222-2222-4222-8222-222222222222', 'reserve', 200, day + 1000],
      ['22222222-2222-4222-8222-222222222222', 'commit', 200, day + 2000],
      ['33333333-3333-4333-8333-333333333333', 'reserve', 100, day + 3000],
      ['33333333-3333-4333-8333-333333333333', 'refund', 100, day + 4000],
      ['44444444-4444-4444-8444-444444444444', 'reserve', 50, day + 86_400_000],
    ];
    for (const [requestId, kind, audioSeconds, at] of rows) em.create(UsageEntry, { tenant, requestId, userId: 'u', kind, audioSeconds, createdAt: new Date(at) });
    await em.flush();

    const sql =
      "select coalesce(sum(case kind when 'reserve' then audio_seconds when 'refund' then -audio_seconds else 0 end), 0)::int as used from usage_entry where tenant_id = ? and created_at >= ? and created_at < ?";
    const params = [tenant.id, new Date(day), new Date(day + 86_400_000)];
    const [row] = await fork().execute<{ used: number }[]>(sql, params);
    expect(row?.used).toBe(200);
    expect(await planOf(fork(), sql, params)).toContain('usage_entry_tenant_created_at_index');

    const duplicate = fork();
    duplicate.create(UsageEntry, { tenant: tenant.id, requestId: '33333333-3333-4333-8333-333333333333', userId: 'u', kind: 'refund', audioSeconds: 100 });
    await expect(duplicate.flush()).rejects.toBeInstanceOf(UniqueConstraintViolationException);
  });
});
