import type { EntityManager } from '@mikro-orm/postgresql';
import type { Config } from '../config.js';
import { loadLinkKey } from './link-key.js';
import { LinkSigner, type LinkVerdict } from './signed-link.js';

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;

export interface StemsLinkSettings {
  /** PUBLIC_URL, else the web role's own address: where links point. */
  baseUrl: string;
  /** LINK_TTL_HOURS. */
  ttlHours: number;
  /** RETENTION_DAYS: no link outlives the files it opens. */
  retentionDays: number;
}

/**
 * Links to a finished request's stems page, `<base>/s/<token>`: what a chat adapter posts when the
 * stems do not fit as attachments, and what the web role's stems routes check.
 */
export class StemsLinks {
  /** The base as URL writes it (host lower-cased), without a trailing slash. */
  private readonly base: string;

  constructor(
    private readonly signer: LinkSigner,
    private readonly settings: StemsLinkSettings,
  ) {
    this.base = new URL(settings.baseUrl).href.replace(/\/+$/, '');
  }

  /**
   * LINK_TTL_HOURS from now, but never past the retention sweep that deletes the request and its
   * files (`finishedAt` + RETENTION_DAYS): a link stops at whichever comes first.
   */
  expiryFor(finishedAt: Date, now: Date): Date {
    return new Date(Math.min(now.getTime() + this.settings.ttlHours * HOUR_MS, finishedAt.getTime() + this.settings.retentionDays * DAY_MS));
  }

  /** A fresh link to a finished request's page. */
  linkFor(request: { id: string; finishedAt?: Date }, now = new Date()): { url: string; expiresAt: Date } {
    if (!request.finishedAt) throw new Error(`request ${request.id} has not finished: it has no stems to link to`);
    const expiresAt = this.expiryFor(request.finishedAt, now);
    return { url: `${this.base}/s/${this.signer.sign(request.id, expiresAt)}`, expiresAt };
  }

  verify(token: string, now = new Date()): LinkVerdict {
    return this.signer.verify(token, now);
  }
}

/** Where links point when PUBLIC_URL is not set: the web role on this machine, as it is configured to listen. */
export function defaultLinkBase(web: Config['web']): string {
  const host = web.host === '0.0.0.0' || web.host === '::' ? '127.0.0.1' : web.host.includes(':') ? `[${web.host}]` : web.host;
  return `http://${host}:${web.port}`;
}

/** StemsLinks as the settings say, its key read (or made) in the database unless LINK_SECRET is set. */
export async function openStemsLinks(em: EntityManager, config: Pick<Config, 'links' | 'web' | 'retentionDays'>): Promise<StemsLinks> {
  const signer = new LinkSigner(await loadLinkKey(em, config.links.secret));
  return new StemsLinks(signer, { baseUrl: config.links.publicUrl ?? defaultLinkBase(config.web), ttlHours: config.links.ttlHours, retentionDays: config.retentionDays });
}
