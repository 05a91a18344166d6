import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LinkSigner } from '../../../core/links/signed-link.js';
import { StemsLinks, defaultLinkBase } from '../../../core/links/stems-links.js';

const KEY = Buffer.alloc(32, 7);
const NOW = new Date('2026-11-29T12:00:00Z');
const LATER = new Date('2026-11-30T12:00:00Z');
const REQUEST = '6f1c2b9e-8a43-4d1f-9b7e-2f4a5c6d7e8f';

const signer = new LinkSigner(KEY);
const parts = (token: string) => token.split('.') as [string, string];
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
/** A token for `payload` with a correct MAC under `key`: what only a key holder could make. */
const forge = (payload: string, key = KEY) => `${payload}.${createHmac('sha256', key).update(`stembot-link:${payload}`).digest('base64url')}`;

describe('signed link tokens', () => {
  it('verify to the request they were signed for, with their expiry, until it passes', () => {
    const token = signer.sign(REQUEST, LATER);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token, NOW)).toEqual({ requestId: REQUEST, expiresAt: LATER });
    expect(signer.verify(token, new Date(LATER.getTime() - 1000))).toEqual({ requestId: REQUEST, expiresAt: LATER });
    expect(signer.verify(token, LATER)).toEqual({ error: 'expired' });
  });

  it('carry a readable payload with the request id and expiry, and nothing guessable besides', () => {
    const [payload] = parts(signer.sign(REQUEST, LATER));
    expect(JSON.parse(Buffer.from(payload, 'base64url').toString())).toEqual({ v: 1, r: REQUEST, e: LATER.getTime() / 1000 });
  });

  it('are invalid under another key, and an expired one from another key is invalid, not expired', () => {
    const other = new LinkSigner(randomBytes(32));
    expect(other.verify(signer.sign(REQUEST, LATER), NOW)).toEqual({ error: 'invalid' });
    expect(other.verify(signer.sign(REQUEST, NOW), LATER)).toEqual({ error: 'invalid' });
  });

  it('refuse a payload edited to name another request or a later expiry', () => {
    const [, mac] = parts(signer.sign(REQUEST, LATER));
    expect(signer.verify(`${encode({ v: 1, r: randomUUID(), e: LATER.getTime() / 1000 })}.${mac}`, NOW)).toEqual({ error: 'invalid' });
    expect(signer.verify(`${encode({ v: 1, r: REQUEST, e: LATER.getTime() / 1000 + 3600 })}.${mac}`, NOW)).toEqual({ error: 'invalid' });
  });

  it('refuse any single character changed, anywhere', () => {
    const token = signer.sign(REQUEST, LATER);
    for (let at = 0; at < token.length; at += 1) {
      if (token[at] === '.') continue;
      const changed = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
      expect(signer.verify(changed, NOW), `character ${at}`).toEqual({ error: 'invalid' });
    }
  });

  it('refuse malformed tokens', () => {
    const token = signer.sign(REQUEST, LATER);
    const [payload, mac] = parts(token);
    for (const bad of ['', '.', payload, `${payload}.`, `.${mac}`, `${token}.${mac}`, `${payload}.${mac.slice(0, 42)}`, `${payload}.${mac}AA`, `${payload}=.${mac}`, `${payload}.${mac}=`, `${payload} .${mac}`, 'x'.repeat(10_000)]) {
      expect(signer.verify(bad, NOW), JSON.stringify(bad.slice(0, 60))).toEqual({ error: 'invalid' });
    }
  });

  it('accept only the canonical spelling of the MAC', () => {
    const [payload, mac] = parts(signer.sign(REQUEST, LATER));
    // 32 bytes are 43 base64url characters whose last one carries 2 unused bits: flipping them decodes to the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(mac.slice(-1));
    const twin = `${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
    expect(Buffer.from(twin, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect(signer.verify(`${payload}.${twin}`, NOW)).toEqual({ error: 'invalid' });
  });

  it('refuse correctly signed payloads of another shape (a key holder\'s mistakes, other versions)', () => {
    const e = LATER.getTime() / 1000;
    for (const payload of [{ v: 2, r: REQUEST, e }, { v: 1, r: 'not-a-uuid', e }, { v: 1, r: REQUEST, e: 'soon' }, { v: 1, r: REQUEST, e, extra: true }, { v: 1, r: REQUEST }]) {
      expect(signer.verify(forge(encode(payload)), NOW), JSON.stringify(payload)).toEqual({ error: 'invalid' });
    }
    expect(signer.verify(forge(Buffer.from('not json').toString('base64url')), NOW)).toEqual({ error: 'invalid' });
    expect(signer.verify(forge(encode({ v: 1, r: REQUEST, e })), NOW)).toEqual({ requestId: REQUEST, expiresAt: LATER });
  });

  it('are bound to their purpose: a MAC over the bare payload, without the link context, does not verify', () => {
    const payload = encode({ v: 1, r: REQUEST, e: LATER.getTime() / 1000 });
    const bare = createHmac('sha256', KEY).update(payload).digest('base64url');
    expect(signer.verify(`${payload}.${bare}`, NOW)).toEqual({ error: 'invalid' });
  });

  it('need a key of at least 32 bytes', () => {
    expect(() => new LinkSigner(Buffer.alloc(16))).toThrow(/at least 32 bytes/);
  });
});

describe('stems links', () => {
  const links = new StemsLinks(signer, { baseUrl: 'https://stems.example.com/bot/', ttlHours: 24, retentionDays: 7 });

  it('expire after LINK_TTL_HOURS while retention keeps the files longer', () => {
    const finishedAt = new Date(NOW.getTime() - 3600_000);
    expect(links.expiryFor(finishedAt, NOW)).toEqual(LATER);
  });

  it('never outlive retention: a request finished 6.5 days ago gets a link for its last half day', () => {
    const finishedAt = new Date(NOW.getTime() - 6.5 * 24 * 3600_000);
    expect(links.expiryFor(finishedAt, NOW)).toEqual(new Date(NOW.getTime() + 12 * 3600_000));
  });

  it('point at PUBLIC_URL/s/<token>, with or without a trailing slash and path', () => {
    const { url, expiresAt } = links.linkFor({ id: REQUEST, finishedAt: NOW }, NOW);
    expect(expiresAt).toEqual(LATER);
    const match = /^https:\/\/stems\.example\.com\/bot\/s\/([^/]+)$/.exec(url);
    expect(match).not.toBeNull();
    expect(links.verify(match?.[1] as string, NOW)).toEqual({ requestId: REQUEST, expiresAt: LATER });
  });

  it('are only made for finished requests', () => {
    expect(() => links.linkFor({ id: REQUEST }, NOW)).toThrow(/has not finished/);
  });

  it('default to the web role\'s own address', () => {
    expect(defaultLinkBase({ host: '127.0.0.1', port: 8080, allowedHosts: [] })).toBe('http://127.0.0.1:8080');
    expect(defaultLinkBase({ host: '0.0.0.0', port: 8080, allowedHosts: [] })).toBe('http://127.0.0.1:8080');
    expect(defaultLinkBase({ host: '::1', port: 81, allowedHosts: [] })).toBe('http://[::1]:81');
  });
});
