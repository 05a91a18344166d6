import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261128032522 } from './Migration20261128032522.js';
import { Migration20261128035340 } from './Migration20261128035340.js';
import { Migration20261128141408 } from './Migration20261128141408.js';
import { Migration20261128173704 } from './Migration20261128173704.js';
import { Migration20261128200000 } from './Migration20261128200000.js';
import { Migration20261129090000 } from './Migration20261129090000.js';
import { Migration20261130090000 } from './Migration20261130090000.js';

/**
 * Every migration, oldest first. `stembot migrate --create` writes a new file from the entity
 * changes; list it here too (explicit, so compiled and source runs apply the same set).
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261128032522', class: Migration20261128032522 },
  { name: 'Migration20261128035340', class: Migration20261128035340 },
  { name: 'Migration20261128141408', class: Migration20261128141408 },
  { name: 'Migration20261128173704', class: Migration20261128173704 },
  { name: 'Migration20261128200000', class: Migration20261128200000 },
  { name: 'Migration20261129090000', class: Migration20261129090000 },
  { name: 'Migration20261130090000', class: Migration20261130090000 },
];
