import { Migration } from '@mikro-orm/migrations';

/**
 * Workers announce themselves here (device, models, state) and rewrite their row every heartbeat;
 * core reads it to refuse models no live worker serves, and `stembot status` to list workers.
 * Written from MikroORM's diff, less the BullMQ queue tables it also saw.
 */
export class Migration20261128200000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "worker" ("id" varchar(200) not null, "host" varchar(255) not null, "device" varchar(16) not null, "models" jsonb not null, "fetching" jsonb not null, "concurrency" int not null, "state" text check ("state" in ('fetching', 'ready', 'stopping')) not null, "started_at" timestamptz not null, "heartbeat_at" timestamptz not null, "expires_at" timestamptz not null, constraint "worker_pkey" primary key ("id"));`);
    this.addSql(`create index "worker_expires_at_index" on "worker" ("expires_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "worker" cascade;`);
  }

}
