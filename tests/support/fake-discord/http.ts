import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiscordHttpError } from './errors.js';

export interface UploadedFile {
  /** The form field, `files[0]` and so on. */
  field: string;
  name: string;
  contentType: string;
  bytes: Buffer;
}

/** One request as the fake received it and answered it. */
export interface RecordedRequest {
  seq: number;
  method: string;
  /** Path below `/api/v10`, e.g. `/webhooks/123/abc/messages/@original`. */
  path: string;
  /** The matched route template, e.g. `/webhooks/:app/:token/messages/:message`; `null` when none matched. */
  route: string | null;
  query: URLSearchParams;
  /** The JSON body, or `payload_json` of a multipart body. */
  json: unknown;
  files: UploadedFile[];
  /** On the fake's clock (the one tests advance). */
  at: number;
  /** Real time (`Date.now()`), for measuring how long a client really waited. */
  wallAt: number;
  status?: number;
  /** Discord's JSON error code when the answer was an error. */
  errorCode?: number;
}

export async function readBody(req: IncomingMessage): Promise<{ json: unknown; files: UploadedFile[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const type = req.headers['content-type'] ?? '';
  if (raw.length === 0) return { json: undefined, files: [] };
  if (type.startsWith('multipart/form-data')) return readMultipart(raw, type);
  if (type.startsWith('application/json')) return { json: JSON.parse(raw.toString('utf8')), files: [] };
  return { json: undefined, files: [] };
}

/** Node's fetch `Request` parses multipart bodies; no hand-written boundary splitting. */
async function readMultipart(raw: Buffer, contentType: string): Promise<{ json: unknown; files: UploadedFile[] }> {
  const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
  let json: unknown;
  const files: UploadedFile[] = [];
  for (const [field, value] of form.entries()) {
    if (typeof value === 'string') {
      if (field === 'payload_json') json = JSON.parse(value);
      continue;
    }
    files.push({ field, name: value.name, contentType: value.type || 'application/octet-stream', bytes: Buffer.from(await value.arrayBuffer()) });
  }
  return { json, files };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204) {
    res.writeHead(204, headers).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

export function sendError(res: ServerResponse, error: DiscordHttpError): void {
  sendJson(res, error.status, error.body());
}

export interface RouteContext {
  request: RecordedRequest;
  params: Record<string, string>;
}

/** What a route answers: a status and a JSON body (204 has none). Errors are thrown as DiscordHttpError. */
export interface RouteResult {
  status: number;
  body?: unknown;
}

export interface Route {
  method: string;
  template: string;
  /** Bot routes need `Authorization: Bot <token>`; webhook and interaction routes authenticate by their token. */
  auth: boolean;
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

export function matchRoute(routes: Route[], method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    if (route.method !== method) continue;
    const template = route.template.split('/').filter(Boolean);
    if (template.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = template.every((segment, i) => {
      const part = decodeURIComponent(parts[i] ?? '');
      if (segment.startsWith(':')) params[segment.slice(1)] = part;
      return segment.startsWith(':') || segment === part;
    });
    if (ok) return { route, params };
  }
  return undefined;
}
