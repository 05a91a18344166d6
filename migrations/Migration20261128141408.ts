import { Migration } from '@mikro-orm/migrations';

/**
 * The relay's resume point in the queue's event stream, and what it needs to heal rows whose job
 * went missing (requeues) or whose worker died (heartbeat_at). Written from MikroORM's diff, less
 * the BullMQ queue tables it also saw (BullMQ migrates those itself).
 */
export class Migration20261128141408 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "relay_cursor" ("queue" varchar(100) not null, "last_event_id" varchar(64) not null, "updated_at" timestamptz not null, constraint "relay_cursor_pkey" primary key ("queue"));`);

    this.addSql(`alter table "separation" add column "requeues" int not null default 0, add column "heartbeat_at" timestamptz null;`);

    this.addSql(`alter table "request" add column "requeues" int not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "relay_cursor" cascade;`);

    this.addSql(`alter table "request" drop column "requeues";`);

    this.addSql(`alter table "separation" drop column "requeues", drop column "heartbeat_at";`);
  }

}
