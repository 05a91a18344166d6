import { Migration } from '@mikro-orm/migrations';

export class Migration20261128035340 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "request" add column "files" jsonb not null default '[]';`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "request" drop column "files";`);
  }

}
