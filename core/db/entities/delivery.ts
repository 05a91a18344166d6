import { randomUUID } from 'node:crypto';
import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import { SeparationRequest } from './separation-request.js';

export const DELIVERY_STATES = ['pending', 'claimed', 'done', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * The outbox: one row per finished request that a chat adapter must post. Adapters claim rows
 * with a lease (`claimedBy`, `claimedUntil`), so a result is posted once even with several bot
 * replicas, and results finished while no adapter ran are posted when one starts.
 */
export class Delivery {
  /** Properties with defaults: optional when creating. */
  [OptionalProps]?: 'id' | 'state' | 'attempts' | 'createdAt';
  id: string = randomUUID();
  request!: SeparationRequest;
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
  properties: {
    id: { type: 'uuid', primary: true },
    request: { kind: '1:1', entity: () => SeparationRequest, owner: true, deleteRule: 'cascade', unique: 'delivery_request_unique' },
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
