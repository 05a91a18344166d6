/**
 * A local fake Slack that the real Bolt app (and @slack/web-api, @slack/socket-mode, @slack/oauth) talks to, for end-to-end tests.
 *
 *   const fake = await FakeSlack.start();
 *   const app = new App({ token: fake.botToken('T0ACME'), appToken: fake.appToken, socketMode: true, clientOptions: fake.clientOptions() });
 *   await app.start();                      // apps.connections.open → ws://…/link → hello
 *   const { waitForAck } = fake.deliver(fake.payloads.slashCommand({ command: '/separate', text: url, user: 'U0BOB', channel: 'C0ACMEGEN' }));
 *   const ack = await waitForAck();         // ack.latencyMs
 *   await fake.waitFor(() => fake.channelMessages('C0ACMEGEN')[0]);
 *
 * Over HTTP instead: `await fake.sendSigned(`${appUrl}/slack/events`, inbound, { tamper: 'bad-signature' })`.
 * Web API errors come back as Slack's (HTTP 200, `{ ok: false, error }`), tokens are checked per
 * workspace, `rateLimitNext` answers 429 + Retry-After, and protocol slips (late acks, unknown
 * methods, reused response URLs, wrong upload lengths) land in `violations`; see fake-slack.test.ts.
 */
export { FakeSlack, type FakeSlackOptions, type FileDownload, type HttpDelivery } from './fake-slack.js';
export type { RecordedCall } from './http.js';
export type { Approval, RecordedInstall } from './oauth.js';
export type { BlockActionSpec, MessageShortcutSpec, SlashCommandSpec } from './payloads.js';
export type { LostAnswerRule, RateLimitRule } from './rate-limits.js';
export { slackSignature, type CapturedResponse, type SignedRequestOptions } from './signed-requests.js';
export type { EnvelopeType, Inbound, RecordedAck, SentEnvelope, SocketDropMode } from './socket-mode.js';
export type { EphemeralMessage, ResponseUrlPost, StoredFile, StoredMessage, Violation } from './state.js';
export { BOT_SCOPES, defaultWorld, type FakeBot, type FakeConversation, type FakeSlackUser, type FakeTeam, type FakeWorld } from './world.js';
