import { Migration } from '@mikro-orm/migrations';

/**
 * Slack installations for multi-workspace distribution (Bolt's OAuth): one row per workspace, or
 * per enterprise for an org-wide install; token columns hold AES-256-GCM sealed values. Written by
 * hand from MikroORM's diff (`migrate --create` would also pick up BullMQ's queue tables).
 */
export class Migration20261128173704 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "slack_installation" ("id" uuid not null, "team_id" varchar(64) null, "enterprise_id" varchar(64) null, "is_enterprise_install" boolean not null default false, "app_id" varchar(64) null, "bot_id" varchar(64) null, "bot_user_id" varchar(64) null, "bot_scopes" text[] not null, "bot_token" text null, "bot_refresh_token" text null, "installer_user_id" varchar(64) not null, "user_token" text null, "user_refresh_token" text null, "incoming_webhook_url" text null, "installation" jsonb not null, "installed_at" timestamptz not null, "updated_at" timestamptz not null, constraint "slack_installation_pkey" primary key ("id"), constraint slack_installation_key_check check ((is_enterprise_install and team_id is null and enterprise_id is not null) or (not is_enterprise_install and team_id is not null)));`);
    this.addSql(`alter table "slack_installation" add constraint "slack_installation_team_id_unique" unique ("team_id");`);
    this.addSql(`create unique index slack_installation_org_unique on slack_installation (enterprise_id) where team_id is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "slack_installation" cascade;`);
  }

}
