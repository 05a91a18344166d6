/**
 * A local fake Discord that the real discord.js client talks to, for end-to-end tests.
 *
 *   const fake = await FakeDiscord.start({ clock });
 *   const client = new Client({ intents: [GatewayIntentBits.Guilds], ...fake.clientOptions() });
 *   await client.login(fake.token);
 *   const handle = fake.dispatchInteraction({ type: 'command', name: 'separate', options: { song } });
 *   const reply = await handle.waitForReply();
 *
 * It enforces Discord's documented limits (3 s first callback, 15 min token, 10 attachments, the
 * per-file size) and can answer with 429s or drop the gateway on demand; see fake-discord.test.ts.
 */
export { TestClock, type Clock } from './clock.js';
export { FakeDiscord, type FakeDiscordOptions } from './fake-discord.js';
export type { RecordedRequest, UploadedFile } from './http.js';
export { CallbackType, FakeInteraction, type InteractionSpec, type OptionValue } from './interactions.js';
export { MessageFlag, type MessageRevision, type StoredAttachment, type StoredMessage } from './messages.js';
export type { RateLimitRule } from './rate-limits.js';
export type { StoredCommand, Violation } from './state.js';
export { defaultGuild, MEMBER_PERMISSIONS, Permission, permissionsIn, type FakeChannel, type FakeGuild, type FakeMember, type FakeOverwrite, type FakeRole, type FakeUser } from './world.js';
