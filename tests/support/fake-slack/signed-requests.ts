/** Sends what Slack sends to an app's Request URL, signed as Slack signs it. */
import { createHmac } from 'node:crypto';
import type { Inbound } from './socket-mode.js';

export interface SignedRequestOptions {
  signingSecret: string;
  /** `bad-signature`: a signature made with another secret. */
  tamper?: 'bad-signature';
  /** Seconds since the epoch in `X-Slack-Request-Timestamp`; default now. Bolt refuses ones over 5 minutes off. */
  timestamp?: number;
}

/** What the app answered, and how long it took. */
export interface CapturedResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON, when it was JSON. */
  json?: unknown;
  elapsedMs: number;
}

/** Slack's `v0` signature: HMAC-SHA256 over `v0:<timestamp>:<raw body>`. */
export function slackSignature(signingSecret: string, timestamp: number, rawBody: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/** The body as Slack encodes each kind: commands as a form, interactions as `payload=<json>`, events as JSON. */
export function encodeInbound(inbound: Inbound): { body: string; contentType: string } {
  if (inbound.type === 'events_api') return { body: JSON.stringify(inbound.payload), contentType: 'application/json' };
  if (inbound.type === 'interactive') {
    return { body: new URLSearchParams({ payload: JSON.stringify(inbound.payload) }).toString(), contentType: 'application/x-www-form-urlencoded' };
  }
  const fields = Object.entries(inbound.payload).map(([key, value]): [string, string] => [key, typeof value === 'string' ? value : JSON.stringify(value)]);
  return { body: new URLSearchParams(fields).toString(), contentType: 'application/x-www-form-urlencoded' };
}

/** POSTs `inbound` to an app's endpoint (e.g. `http://127.0.0.1:<port>/slack/events`). */
export async function sendSigned(endpoint: string, inbound: Inbound, options: SignedRequestOptions): Promise<CapturedResponse> {
  const { body, contentType } = encodeInbound(inbound);
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const secret = options.tamper === 'bad-signature' ? `${options.signingSecret}-not` : options.signingSecret;
  const started = performance.now();
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(secret, timestamp, body),
    },
    body,
  });
  const text = await response.text();
  const elapsedMs = performance.now() - started;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json, elapsedMs };
}
