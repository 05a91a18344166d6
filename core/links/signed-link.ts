import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Tokens for links to a request's stems page: `base64url(payload) "." base64url(HMAC-SHA256)`,
 * where the payload is `{"v":1,"r":<request id>,"e":<expiry, unix seconds>}` and the MAC is over
 * `stembot-link:` + the encoded payload exactly as it appears in the token. Whoever holds a token
 * may read that one request's files until it expires; changing any character of it (another
 * request id, a later expiry) breaks the MAC. The payload is readable, not secret: the request id
 * in it is a random UUID that grants nothing without the MAC.
 */

export type LinkVerdict = { requestId: string; expiresAt: Date } | { error: 'invalid' | 'expired' };

/** Domain separation: a MAC made with the same key for anything else never passes as a link. */
const MAC_CONTEXT = 'stembot-link:';
const MAC_BYTES = 32;
/** A real token is about 140 characters; anything much longer is refused before any work. */
const MAX_TOKEN_CHARS = 400;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

const payloadSchema = z.strictObject({
  v: z.literal(1),
  r: z.uuid(),
  e: z.number().int().positive(),
});

/** Signs and checks link tokens with one key (LINK_SECRET, or the key kept in the database). */
export class LinkSigner {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new Error('a link signing key needs at least 32 bytes');
  }

  sign(requestId: string, expiresAt: Date): string {
    const payload = Buffer.from(JSON.stringify(payloadSchema.parse({ v: 1, r: requestId, e: Math.floor(expiresAt.getTime() / 1000) }))).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The request a token is for; `expired` only for a token this key did sign. */
  verify(token: string, now: Date): LinkVerdict {
    const invalid = { error: 'invalid' } as const;
    if (token.length > MAX_TOKEN_CHARS) return invalid;
    const [payload, mac, ...rest] = token.split('.');
    if (payload === undefined || mac === undefined || rest.length > 0 || !BASE64URL.test(payload) || !BASE64URL.test(mac)) return invalid;
    const given = Buffer.from(mac, 'base64url');
    // Base64url has several spellings of the same bytes (the last character's unused bits): only the canonical one is a token.
    if (given.length !== MAC_BYTES || given.toString('base64url') !== mac) return invalid;
    if (!timingSafeEqual(given, this.mac(payload))) return invalid;
    const parsed = payloadSchema.safeParse(parseJson(Buffer.from(payload, 'base64url').toString('utf8')));
    if (!parsed.success) return invalid;
    if (parsed.data.e * 1000 <= now.getTime()) return { error: 'expired' };
    return { requestId: parsed.data.r, expiresAt: new Date(parsed.data.e * 1000) };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(MAC_CONTEXT + payload).digest();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
