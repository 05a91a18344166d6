import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ZipFile } from 'yazl';
import type { LinkVerdict } from '../../links/signed-link.js';
import { findLinkedStems, stemsPageData, type LinkedFile, type LinkedStems } from '../../links/stems-page-data.js';
import type { Logger } from '../../logging.js';
import type { Storage } from '../../storage.js';
import { answerRange } from './byte-range.js';
import { errorPageHtml, stemsPageHtml, type AssetVersions } from './page-html.js';

/**
 * The routes a signed link opens, mounted in the web role:
 *   GET /s/:token                the stems page (a fixed HTML shell)
 *   GET /s/:token/data.json      title, length, model, files and waveform peaks
 *   GET /s/:token/files/:name    one of the request's files (Range, or a redirect to a presigned URL)
 *   GET /s/:token/stems.zip      all of them in one zip, streamed
 *   GET /s/assets/:file          the page's script and style
 * A token that does not verify, or names a request that retention removed, gets 404; an expired
 * one 410. File names are looked up among the request's own files, never used as paths.
 */

export interface StemsRoutesOptions {
  links: { verify(token: string, now: Date): LinkVerdict };
  em: EntityManager;
  storage: Storage;
  logger: Logger;
  /** For tests that move the clock; default: the real time. */
  now?: () => Date;
}

interface Asset {
  body: Buffer;
  type: string;
  version: string;
}

const ASSETS_DIR = new URL('./assets/', import.meta.url);

/** The page's script and style, read once; a version hash in their URLs lets browsers cache them for good. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [file, type] of [
    ['stems-page.js', 'text/javascript; charset=utf-8'],
    ['stems-page.css', 'text/css; charset=utf-8'],
  ] as const) {
    const body = readFileSync(new URL(file, ASSETS_DIR));
    assets.set(file, { body, type, version: createHash('sha256').update(body).digest('hex').slice(0, 16) });
  }
  return assets;
}

const CONTENT_TYPES: Record<string, string> = {
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.wav': 'audio/wav',
  '.opus': 'audio/ogg; codecs=opus',
  '.ogg': 'audio/ogg',
  '.m4a': 'audio/mp4',
};

/** The page may load only itself, plus, where the storage hands out presigned URLs, audio from that origin. */
function pagePolicy(storageOrigin: string | undefined): string {
  const audio = storageOrigin ? `'self' ${storageOrigin}` : "'self'";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${audio}`,
    `media-src ${audio}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Everything but the page is data, never a document: no scripts, no framing, even if opened directly. */
const DATA_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'";
/** The presigned URL is only ever reached through our redirect: it needs to outlive it just long enough to be followed and read. */
const PRESIGNED_MAX_MS = 3600 * 1000;

/** A download name made of safe ASCII only: a title may hold quotes, slashes or right-to-left marks. */
function zipName(title: string | undefined): string {
  const base = (title ?? '')
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9 _.-]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[.-]+/, '')
    .slice(0, 80)
    .trim();
  return `${base || 'stems'} - stems.zip`;
}

async function allStored(storage: Storage, files: LinkedFile[]): Promise<number[] | undefined> {
  const sizes = await Promise.all(files.map((file) => storage.size(file.storageKey)));
  return sizes.every((size): size is number => size !== undefined) ? sizes : undefined;
}

export function stemsRoutes(options: StemsRoutesOptions): FastifyPluginAsync {
  const { em, storage, logger } = options;
  const now = options.now ?? (() => new Date());
  const assets = loadAssets();
  const versions: AssetVersions = { script: (assets.get('stems-page.js') as Asset).version, style: (assets.get('stems-page.css') as Asset).version };

  type Opened = { stems: LinkedStems; expiresAt: Date } | { status: 404 | 410 };
  /** The request behind a token: 404 for a token we did not sign or a request that is gone, 410 for an expired one. */
  const open = async (token: string): Promise<Opened> => {
    const verdict = options.links.verify(token, now());
    if ('error' in verdict) return { status: verdict.error === 'expired' ? 410 : 404 };
    const stems = await findLinkedStems(em, verdict.requestId);
    return stems ? { stems, expiresAt: verdict.expiresAt } : { status: 404 };
  };
  const refuse = (reply: FastifyReply, status: 404 | 410) => reply.code(status).send({ error: status === 410 ? 'link expired' : 'not found' });

  return async (app) => {
    // Defaults for every response here, set before the handler so that it can replace them.
    app.addHook('onRequest', async (_request, reply) => {
      // The token is in the URL: no Referer may carry it to another site (the storage's included).
      void reply
        .header('referrer-policy', 'no-referrer')
        .header('x-robots-tag', 'noindex, nofollow')
        .header('content-security-policy', DATA_POLICY)
        .header('cache-control', 'private, no-store');
    });

    app.get<{ Params: { file: string } }>('/s/assets/:file', async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) return reply.code(404).send({ error: 'not found' });
      return reply.type(asset.type).header('cache-control', 'public, max-age=31536000, immutable').send(asset.body);
    });

    app.get<{ Params: { token: string } }>('/s/:token', async (request, reply) => {
      const opened = await open(request.params.token);
      const sendHtml = (status: number, html: string, policy: string) =>
        reply.code(status).type('text/html; charset=utf-8').header('content-security-policy', policy).header('x-frame-options', 'DENY').header('cross-origin-opener-policy', 'same-origin').send(html);
      if ('status' in opened) return sendHtml(opened.status, errorPageHtml(opened.status, versions), pagePolicy(undefined));
      const files = opened.stems.files;
      if (!(await allStored(storage, files))) return sendHtml(404, errorPageHtml(404, versions), pagePolicy(undefined));
      // Where the storage presigns, the page's fetches are redirected to it: learn its origin from one such URL.
      const presigned = await storage.presignedUrl((files[0] as LinkedFile).storageKey, new Date(now().getTime() + PRESIGNED_MAX_MS));
      return sendHtml(200, stemsPageHtml(versions), pagePolicy(presigned === undefined ? undefined : new URL(presigned).origin));
    });

    app.get<{ Params: { token: string } }>('/s/:token/data.json', async (request, reply) => {
      const opened = await open(request.params.token);
      if ('status' in opened) return refuse(reply, opened.status);
      if (!(await allStored(storage, opened.stems.files))) return refuse(reply, 404);
      return reply.type('application/json; charset=utf-8').send(await stemsPageData(storage, opened.stems, opened.expiresAt, logger));
    });

    app.get<{ Params: { token: string; name: string }; Querystring: Record<string, string | string[] | undefined> }>('/s/:token/files/:name', async (request, reply) => {
      const opened = await open(request.params.token);
      if ('status' in opened) return refuse(reply, opened.status);
      const file = opened.stems.files.find((candidate) => candidate.name === request.params.name);
      if (!file) return refuse(reply, 404);
      const download = request.query.download === '1';
      const presignedUntil = new Date(Math.min(opened.expiresAt.getTime(), now().getTime() + PRESIGNED_MAX_MS));
      const presigned = await storage.presignedUrl(file.storageKey, presignedUntil, download ? file.name : undefined);
      if (presigned !== undefined) return reply.redirect(presigned, 302);
      const size = await storage.size(file.storageKey);
      if (size === undefined) return refuse(reply, 404);

      void reply
        .type(CONTENT_TYPES[path.extname(file.name).toLowerCase()] ?? 'application/octet-stream')
        .header('accept-ranges', 'bytes')
        .header('cross-origin-resource-policy', 'same-origin');
      if (download) void reply.header('content-disposition', `attachment; filename="${file.name.replace(/[^A-Za-z0-9_.-]/g, '_')}"`);
      const answer = answerRange(request.headers.range, size);
      if (answer.kind === 'unsatisfiable') return reply.code(416).header('content-range', `bytes */${size}`).send();
      if (answer.kind === 'whole') return reply.header('content-length', size).send(await storage.openRead(file.storageKey));
      const { start, end } = answer.range;
      return reply
        .code(206)
        .header('content-range', `bytes ${start}-${end}/${size}`)
        .header('content-length', end - start + 1)
        .send(await storage.openRead(file.storageKey, answer.range));
    });

    app.get<{ Params: { token: string } }>('/s/:token/stems.zip', async (request, reply) => {
      const opened = await open(request.params.token);
      if ('status' in opened) return refuse(reply, opened.status);
      const { files } = opened.stems;
      const sizes = await allStored(storage, files);
      if (!sizes) return refuse(reply, 404);
      const zip = new ZipFile();
      const body = new PassThrough();
      zip.on('error', (error: Error) => {
        logger.error({ err: error }, 'stems zip failed while streaming');
        body.destroy(error);
      });
      // yazl never closes a file it is reading when the download stops half-way: that is done here, or each aborted download would keep one open.
      const reading = new Set<Readable>();
      body.once('close', () => {
        for (const stream of reading) stream.destroy();
      });
      for (const [index, file] of files.entries()) {
        // Audio is compressed already: stored, the zip streams at disk speed and its length is known up front.
        zip.addReadStreamLazy(file.name, { compress: false, size: sizes[index] as number, mtime: opened.stems.finishedAt }, (callback) => {
          storage.openRead(file.storageKey).then(
            (stream) => {
              reading.add(stream);
              stream.once('close', () => reading.delete(stream));
              if (body.destroyed) stream.destroy();
              callback(null, stream);
            },
            (error: unknown) => callback(error, undefined as never),
          );
        });
      }
      let total = -1;
      // yazl calls this at once when every entry's size is known, as it is for stored entries.
      (zip.end as (options: object, sized: (bytes: number) => void) => void).call(zip, {}, (bytes) => {
        total = bytes;
      });
      zip.outputStream.pipe(body);
      if (total >= 0) void reply.header('content-length', total);
      return reply.type('application/zip').header('content-disposition', `attachment; filename="${zipName(opened.stems.title)}"`).send(body);
    });
  };
}
