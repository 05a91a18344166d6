import type { IncomingMessage, ServerResponse } from 'node:http';

/** One Web API call as the fake received and answered it. */
export interface RecordedCall {
  seq: number;
  /** `chat.postMessage`, … */
  method: string;
  /** The workspace the token belongs to, when the token was a valid bot token. */
  teamId?: string;
  /** The token used (header or `token` argument). */
  token?: string;
  /** Arguments as sent: form fields are strings (objects JSON-encoded by the client), JSON bodies keep their types. */
  args: Record<string, unknown>;
  contentType: string;
  /** `Date.now()` when the request arrived, for asserting a client waited. */
  at: number;
  /** HTTP status: 200, or 429 when rate limited. */
  status?: number;
  ok?: boolean;
  /** Slack's error string on `ok: false`. */
  error?: string;
}

/** Slack answers errors with HTTP 200 and `{ ok: false, error }`; routes throw this. */
export class SlackApiError extends Error {
  constructor(
    readonly error: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(error);
  }
}

export async function readRaw(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The fields of a body, as Slack reads them: form, JSON or multipart (files become Buffers). */
export async function parseArgs(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  if (raw.length === 0) return {};
  if (contentType.startsWith('application/json')) return JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
  if (contentType.startsWith('multipart/form-data')) return parseMultipart(raw, contentType);
  return Object.fromEntries(new URLSearchParams(raw.toString('utf8')));
}

/** Node's fetch `Request` parses multipart bodies; no hand-written boundary splitting. */
export async function parseMultipart(raw: Buffer, contentType: string): Promise<Record<string, unknown>> {
  const form = await new Request('http://fake.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body: raw }).formData();
  const fields: Record<string, unknown> = {};
  for (const [field, value] of form.entries()) {
    fields[field] = typeof value === 'string' ? value : Buffer.from(await value.arrayBuffer());
  }
  return fields;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

/** The token of a request: `Authorization: Bearer …` first, then a `token` argument, as Slack accepts both. */
export function tokenOf(req: IncomingMessage, args: Record<string, unknown>): string | undefined {
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  return typeof args.token === 'string' ? args.token : undefined;
}
