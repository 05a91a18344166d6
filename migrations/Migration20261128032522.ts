import { Migration } from '@mikro-orm/migrations';

export class Migration20261128032522 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "separation" ("id" uuid not null, "source_key" varchar(200) not null, "model" varchar(100) not null, "state" text check ("state" in ('queued', 'running', 'completed', 'failed', 'cancelled')) not null default 'queued', "title" varchar(500) null, "duration_seconds" double precision null, "stems" jsonb not null, "error_code" varchar(64) null, "error_message" text null, "attempts" int not null default 0, "created_at" timestamptz not null, "started_at" timestamptz null, "finished_at" timestamptz null, constraint "separation_pkey" primary key ("id"));`);
    this.addSql(`create unique index separation_live_source_model_unique on separation (source_key, model) where state in ('queued', 'running', 'completed');`);
    this.addSql(`create index "separation_state_finished_at_index" on "separation" ("state", "finished_at");`);

    this.addSql(`create table "tenant" ("id" uuid not null, "platform" text check ("platform" in ('discord', 'slack')) not null, "external_id" varchar(64) not null, "name" varchar(200) null, "quota_overrides" jsonb not null, "created_at" timestamptz not null, "updated_at" timestamptz not null, constraint "tenant_pkey" primary key ("id"));`);
    this.addSql(`alter table "tenant" add constraint "tenant_platform_external_id_unique" unique ("platform", "external_id");`);

    this.addSql(`create table "request" ("id" uuid not null, "tenant_id" uuid not null, "user_id" varchar(64) not null, "channel_id" varchar(64) not null, "platform_message" jsonb not null, "source" jsonb not null, "model" varchar(100) not null, "options" jsonb not null, "state" text check ("state" in ('queued', 'running', 'completed', 'failed', 'cancelled')) not null default 'queued', "separation_id" uuid null, "charged_seconds" int not null default 0, "error_code" varchar(64) null, "error_message" text null, "created_at" timestamptz not null, "updated_at" timestamptz not null, "finished_at" timestamptz null, constraint "request_pkey" primary key ("id"));`);
    this.addSql(`create index "request_separation_index" on "request" ("separation_id");`);
    this.addSql(`create index "request_tenant_user_recent_index" on "request" ("tenant_id", "user_id", "created_at", "id");`);
    this.addSql(`create index "request_tenant_state_index" on "request" ("tenant_id", "state");`);
    this.addSql(`create index "request_state_finished_at_index" on "request" ("state", "finished_at");`);

    this.addSql(`create table "delivery" ("id" uuid not null, "request_id" uuid not null, "platform" varchar(16) not null, "state" text check ("state" in ('pending', 'claimed', 'done', 'failed')) not null default 'pending', "claimed_by" varchar(100) null, "claimed_until" timestamptz null, "attempts" int not null default 0, "last_error" text null, "created_at" timestamptz not null, "delivered_at" timestamptz null, constraint "delivery_pkey" primary key ("id"));`);
    this.addSql(`alter table "delivery" add constraint "delivery_request_unique" unique ("request_id");`);
    this.addSql(`create index "delivery_platform_state_claimed_until_index" on "delivery" ("platform", "state", "claimed_until");`);

    this.addSql(`create table "quota_change" ("id" bigserial primary key, "tenant_id" uuid not null, "changed_by" varchar(64) not null, "field" varchar(64) not null, "old_value" jsonb null, "new_value" jsonb null, "created_at" timestamptz not null);`);
    this.addSql(`create index "quota_change_tenant_created_at_index" on "quota_change" ("tenant_id", "created_at");`);

    this.addSql(`create table "usage_entry" ("id" bigserial primary key, "tenant_id" uuid not null, "request_id" uuid not null, "user_id" varchar(64) not null, "kind" text check ("kind" in ('reserve', 'commit', 'refund')) not null, "audio_seconds" int not null, "created_at" timestamptz not null);`);
    this.addSql(`create index "usage_entry_tenant_created_at_index" on "usage_entry" ("tenant_id", "created_at");`);
    this.addSql(`create index "usage_entry_tenant_user_created_at_index" on "usage_entry" ("tenant_id", "user_id", "created_at");`);
    this.addSql(`alter table "usage_entry" add constraint "usage_entry_request_kind_unique" unique ("request_id", "kind");`);

    this.addSql(`alter table "request" add constraint "request_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete restrict;`);
    this.addSql(`alter table "request" add constraint "request_separation_id_foreign" foreign key ("separation_id") references "separation" ("id") on update cascade on delete set null;`);

    this.addSql(`alter table "delivery" add constraint "delivery_request_id_foreign" foreign key ("request_id") references "request" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "quota_change" add constraint "quota_change_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "usage_entry" add constraint "usage_entry_tenant_id_foreign" foreign key ("tenant_id") references "tenant" ("id") on update cascade on delete restrict;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "request" drop constraint "request_separation_id_foreign";`);

    this.addSql(`alter table "request" drop constraint "request_tenant_id_foreign";`);

    this.addSql(`alter table "quota_change" drop constraint "quota_change_tenant_id_foreign";`);

    this.addSql(`alter table "usage_entry" drop constraint "usage_entry_tenant_id_foreign";`);

    this.addSql(`alter table "delivery" drop constraint "delivery_request_id_foreign";`);

    this.addSql(`drop table if exists "separation" cascade;`);

    this.addSql(`drop table if exists "tenant" cascade;`);

    this.addSql(`drop table if exists "request" cascade;`);

    this.addSql(`drop table if exists "delivery" cascade;`);

    this.addSql(`drop table if exists "quota_change" cascade;`);

    this.addSql(`drop table if exists "usage_entry" cascade;`);
  }

}
