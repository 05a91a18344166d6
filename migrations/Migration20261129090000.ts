import { Migration } from '@mikro-orm/migrations';

/**
 * Keys stembot makes for itself and keeps, by name: `links` signs the links to stems pages when
 * LINK_SECRET is not set, so every process on this database signs and checks links alike. Written
 * by hand: no entity maps it (core/links/link-key.ts reads it with two plain statements).
 */
export class Migration20261129090000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "signing_key" ("name" varchar(64) not null, "key" bytea not null, "created_at" timestamptz not null default now(), constraint "signing_key_pkey" primary key ("name"));`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "signing_key" cascade;`);
  }

}
