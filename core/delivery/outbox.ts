import type { EntityManager } from '@mikro-orm/postgresql';
import type { Platform } from '../db/entities/tenant.js';
import { Delivery, SeparationRequest, type DeliveryKind } from '../db/entities/index.js';
import { deliveryLag } from '../metrics.js';
import { summarize, type RequestSummary } from '../requests/request-queries.js';

export interface ClaimedDelivery {
  deliveryId: string;
  /** `result`: the request is finished; `preview`: its preview's stems are stored and it may still run. */
  kind: DeliveryKind;
  /** The request to post (for a result: completed, failed or cancelled), as plain data. */
  request: RequestSummary;
  /** How many times this delivery was claimed before (a previous adapter died or failed). */
  attempts: number;
}

export interface ClaimOptions {
  platform: Platform;
  /** A name for the adapter replica, recorded on the row. */
  claimer: string;
  limit: number;
  /** How long the claim holds; a replica that dies mid-post lets another take over after this. */
  leaseMs: number;
}

/** After this many failed posts a delivery is given up (and stays visible in `/jobs`). A preview gets one: the result is on its way. */
const MAX_DELIVERY_ATTEMPTS = 5;

/**
 * The outbox adapters post from. Claims use `for update skip locked` with a lease, so two bot
 * replicas never take the same row, and rows finished while no adapter ran wait as `pending`. A
 * result is not claimed while its request's preview is still to be posted, so the preview never
 * lands after (or over) the result.
 */
export class Outbox {
  constructor(private readonly em: EntityManager) {}

  async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    const em = this.em.fork();
    const rows = await em.execute<{ id: string; request_id: string; kind: DeliveryKind; attempts: number }[]>(
      `update delivery set state = 'claimed', claimed_by = ?, claimed_until = now() + (? * interval '1 millisecond'), attempts = attempts + 1
        where id in (
          select d.id from delivery d
           where d.platform = ? and (d.state = 'pending' or (d.state = 'claimed' and d.claimed_until < now()))
             and not (d.kind = 'result' and exists (
               select 1 from delivery p where p.request_id = d.request_id and p.kind = 'preview' and p.state in ('pending', 'claimed')))
           order by d.created_at limit ? for update skip locked)
        returning id, request_id, kind, attempts`,
      [options.claimer, options.leaseMs, options.platform, options.limit],
    );
    if (rows.length === 0) return [];
    const requests = await em.find(SeparationRequest, { id: { $in: rows.map((row) => row.request_id) } }, { populate: ['separation'] });
    const byId = new Map(requests.map((request) => [request.id, request]));
    return rows.flatMap((row) => {
      const request = byId.get(row.request_id);
      return request ? [{ deliveryId: row.id, kind: row.kind, request: summarize(request), attempts: row.attempts - 1 }] : [];
    });
  }

  /** Extends a claim that is still this claimer's (a long upload); false when it was lost meanwhile. */
  async renew(deliveryId: string, claimer: string, leaseMs: number): Promise<boolean> {
    const rows = await this.em.fork().execute<{ id: string }[]>(
      `update delivery set claimed_until = now() + (? * interval '1 millisecond') where id = ? and state = 'claimed' and claimed_by = ? returning id`,
      [leaseMs, deliveryId, claimer],
    );
    return rows.length > 0;
  }

  /** Marks a claimed delivery posted; false when the claim was lost to another replica meanwhile. */
  async complete(deliveryId: string, claimer: string): Promise<boolean> {
    const rows = await this.em.fork().execute<{ platform: string; kind: DeliveryKind; lag_seconds: number }[]>(
      `update delivery set state = 'done', delivered_at = now(), claimed_until = null
        where id = ? and state = 'claimed' and claimed_by = ?
        returning platform, kind, extract(epoch from now() - created_at)::float8 as lag_seconds`,
      [deliveryId, claimer],
    );
    // From the result being ready (the row was written when the request finished) to it being in chat.
    for (const row of rows) if (row.kind === 'result') deliveryLag.observe({ platform: row.platform }, Math.max(0, Number(row.lag_seconds)));
    return rows.length > 0;
  }

  /** Gives a claimed delivery back to be retried, or gives up on it after repeated failures (a preview at once). */
  async fail(deliveryId: string, claimer: string, error: string): Promise<void> {
    await this.em.fork().execute(
      `update delivery set state = case when attempts >= ? or kind = 'preview' then 'failed' else 'pending' end, last_error = ?, claimed_until = null
        where id = ? and state = 'claimed' and claimed_by = ?`,
      [MAX_DELIVERY_ATTEMPTS, error.slice(0, 2000), deliveryId, claimer],
    );
  }

  async pendingCount(platform: Platform): Promise<number> {
    return this.em.fork().count(Delivery, { platform, state: { $in: ['pending', 'claimed'] } });
  }

  /** Results waiting to be posted, on every platform: what /metrics calls the backlog. */
  async backlog(): Promise<number> {
    return this.em.fork().count(Delivery, { state: { $in: ['pending', 'claimed'] } });
  }
}
