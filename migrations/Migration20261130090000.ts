import { Migration } from '@mikro-orm/migrations';

/**
 * Previews: a separation keeps its excerpt's stems, and the outbox holds a request's preview beside
 * its result (one row of each kind per request, so a replayed event posts neither twice).
 */
export class Migration20261130090000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "separation" add column "preview" jsonb null;`);
    this.addSql(`alter table "delivery" add column "kind" text check ("kind" in ('result', 'preview')) not null default 'result';`);
    this.addSql(`alter table "delivery" drop constraint "delivery_request_unique";`);
    this.addSql(`alter table "delivery" add constraint "delivery_request_kind_unique" unique ("request_id", "kind");`);
  }

  override async down(): Promise<void> {
    this.addSql(`delete from "delivery" where "kind" = 'preview';`);
    this.addSql(`alter table "delivery" drop constraint "delivery_request_kind_unique";`);
    this.addSql(`alter table "delivery" add constraint "delivery_request_unique" unique ("request_id");`);
    this.addSql(`alter table "delivery" drop column "kind";`);
    this.addSql(`alter table "separation" drop column "preview";`);
  }

}
