/** Response URLs the fake hosts at `${url}/response/<id>`: what an app POSTs there lands in the channel or before one user. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type FakeSlackState, type HostedResponseUrl, RESPONSE_URL_LIFETIME_MS, RESPONSE_URL_USES } from './state.js';

const responseBody = z.object({
  text: z.string().optional(),
  blocks: z.array(z.record(z.string(), z.unknown())).optional(),
  response_type: z.enum(['ephemeral', 'in_channel']).optional(),
  replace_original: z.boolean().optional(),
  delete_original: z.boolean().optional(),
  thread_ts: z.string().optional(),
});

export function mintResponseUrl(state: FakeSlackState, init: Pick<HostedResponseUrl, 'teamId' | 'channel' | 'user' | 'messageTs'>): HostedResponseUrl {
  const id = randomBytes(12).toString('hex');
  const hosted: HostedResponseUrl = { ...init, id, url: `${state.baseUrl}/response/${id}`, uses: 0, createdAt: Date.now() };
  state.responseUrls.set(id, hosted);
  return hosted;
}

/** Handles one POST; returns the HTTP status and body to answer with. */
export function acceptResponse(state: FakeSlackState, id: string, raw: Buffer): { status: number; body: unknown } {
  const hosted = state.responseUrls.get(id);
  const answer = (status: number, body: unknown) => {
    let parsedBody: unknown = raw.toString('utf8');
    try {
      parsedBody = JSON.parse(raw.toString('utf8'));
    } catch {
      // kept as text
    }
    state.responsePosts.push({ responseUrlId: id, body: parsedBody, status, at: Date.now() });
    return { status, body };
  };
  if (!hosted) return answer(404, { ok: false, error: 'invalid_url' });
  hosted.uses += 1;
  if (hosted.uses > RESPONSE_URL_USES || Date.now() - hosted.createdAt > RESPONSE_URL_LIFETIME_MS) {
    state.violate({ kind: 'response-url-overused', detail: `response URL ${id} used ${hosted.uses} times, ${Date.now() - hosted.createdAt} ms after it was issued` });
    return answer(404, { ok: false, error: 'expired_url' });
  }
  let body: z.infer<typeof responseBody>;
  try {
    body = responseBody.parse(JSON.parse(raw.toString('utf8')));
  } catch (error) {
    state.violate({ kind: 'bad-response-url-body', detail: String(error).slice(0, 300) });
    return answer(400, { ok: false, error: 'invalid_payload' });
  }
  apply(state, hosted, body);
  return answer(200, { ok: true });
}

function apply(state: FakeSlackState, hosted: HostedResponseUrl, body: z.infer<typeof responseBody>): void {
  const original = hosted.messageTs === undefined ? undefined : state.findMessage(hosted.channel, hosted.messageTs);
  const bot = state.team(hosted.teamId)?.bot;
  if (body.delete_original) {
    if (original) original.deleted = true;
    return;
  }
  if (body.replace_original && original) {
    original.text = body.text ?? original.text;
    original.blocks = body.blocks ?? original.blocks;
    original.revisions.push({ at: Date.now(), text: original.text, blocks: original.blocks });
    return;
  }
  if (body.response_type === 'in_channel') {
    state.addMessage({
      teamId: hosted.teamId,
      channel: hosted.channel,
      user: bot?.userId ?? 'U0UNKNOWNBOT',
      botId: bot?.botId,
      text: body.text ?? '',
      blocks: body.blocks,
      threadTs: body.thread_ts,
      via: 'response_url',
    });
    return;
  }
  state.ephemerals.push({
    teamId: hosted.teamId,
    channel: hosted.channel,
    user: hosted.user,
    ts: state.nextTs(),
    threadTs: body.thread_ts,
    text: body.text ?? '',
    blocks: body.blocks,
    via: 'response_url',
    at: Date.now(),
  });
}
