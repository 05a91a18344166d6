import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';

/** The row of the `signing_key` table (see its migration) that holds the links' key. */
const KEY_NAME = 'links';
const KEY_BYTES = 32;

/**
 * The key links are signed with: LINK_SECRET when the operator set one, else a random key made
 * once and kept in the database, so every process on that database signs and checks alike and
 * links survive restarts. Two processes starting at once both offer a key; the first insert wins
 * and both read that one back.
 */
export async function loadLinkKey(em: EntityManager, secret: string | undefined): Promise<Buffer> {
  if (secret !== undefined) return Buffer.from(secret, 'utf8');
  const connection = em.getConnection();
  await connection.execute('insert into "signing_key" ("name", "key") values (?, ?) on conflict ("name") do nothing', [KEY_NAME, randomBytes(KEY_BYTES)]);
  const rows = await connection.execute<{ key: Buffer }[]>('select "key" from "signing_key" where "name" = ?', [KEY_NAME]);
  const key = rows[0]?.key;
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) throw new Error('the link signing key in the database is missing or damaged');
  return key;
}
