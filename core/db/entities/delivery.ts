import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { SeparationRequest } from './separation-request.js';

export const DELIVERY_STATES = ['pending', 'claimed', 'done', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/** `result`: the finished request (stems, or what went wrong); `preview`: an excerpt's stems while it runs. */
export const DELIVERY_KINDS = ['result', 'preview'] as const;
export type DeliveryKind = (typeof DELIVERY_KINDS)[number];

/**
 * The outbox: one row per finished request that a chat adapter must post, and one per preview
 * posted before it (a request's result waits for its preview). Adapters claim rows
 * with a lease (`claimedBy`, `claimedUntil`), so a result is posted once even with several bot
 * replicas, and results finished while no adapter ran are posted when one starts.
 */
export class Delivery {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'kind' | 'state' | 'attempts' | 'createdAt';
  id: string = randomUUID();
  request!: SeparationRequest;
  kind: DeliveryKind = 'result';
  platform!: string;
  state: DeliveryState = 'pending';
  claimedBy?: string;
  claimedUntil?: Date;
  attempts = 0;
  lastError?: string;
  createdAt: Date = new Date();
  deliveredAt?: Date;
}

export const DeliverySchema = new EntitySchema<Delivery>({
  class: Delivery,
  tableName: 'delivery',
  indexes: [{ name: 'delivery_platform_state_claimed_until_index', properties: ['platform', 'state', 'claimedUntil'] }],
  uniques: [{ name: 'delivery_request_kind_unique', properties: ['request', 'kind'] }],
  properties: {
    id: { type: 'uuid', primary: true },
    request: { kind: 'm:1', entity: () => SeparationRequest, deleteRule: 'cascade' },
    kind: { enum: true, items: () => [...DELIVERY_KINDS] },
    platform: { type: 'string', length: 16 },
    state: { enum: true, items: () => [...DELIVERY_STATES] },
    claimedBy: { type: 'string', length: 100, nullable: true },
    claimedUntil: { type: 'Date', columnType: 'timestamptz', nullable: true },
    attempts: { type: 'integer' },
    lastError: { type: 'text', nullable: true },
    createdAt: { type: 'Date', columnType: 'timestamptz' },
    deliveredAt: { type: 'Date', columnType: 'timestamptz', nullable: true },
  },
});
