import { DeliverySchema } from './delivery.js';
import { QuotaChangeSchema } from './quota-change.js';
import { RelayCursorSchema } from './relay-cursor.js';
import { SeparationSchema } from './separation.js';
import { SeparationRequestSchema } from './separation-request.js';
import { SigningKeySchema } from './signing-key.js';
import { SlackInstallationSchema } from './slack-installation.js';
import { TenantSchema } from './tenant.js';
import { UsageEntrySchema } from './usage-entry.js';
import { WorkerPresenceSchema } from './worker-presence.js';

export * from './delivery.js';
export * from './quota-change.js';
export * from './relay-cursor.js';
export * from './separation.js';
export * from './separation-request.js';
export * from './signing-key.js';
export * from './slack-installation.js';
export * from './tenant.js';
export * from './usage-entry.js';
export * from './worker-presence.js';

export const ENTITY_SCHEMAS = [TenantSchema, SeparationSchema, SeparationRequestSchema, UsageEntrySchema, DeliverySchema, QuotaChangeSchema, RelayCursorSchema, SlackInstallationSchema, WorkerPresenceSchema, SigningKeySchema];
