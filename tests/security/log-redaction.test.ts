import { type Client, DiscordAPIError, Events } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDiscord, TestClock } from '../support/fake-discord/index.js';
import { captureLogger } from '../support/services.js';

let clock: TestClock;
let fake: FakeDiscord;
let client: Client;

beforeEach(async () => {
  clock = new TestClock();
  fake = await FakeDiscord.start({ clock });
  client = await fake.loginClient();
});

afterEach(async () => {
  await client.destroy();
  await fake.close();
});

/** Edits an interaction's reply after its token expired: Discord answers 401 / 50027, as it does to a late progress edit. */
async function failedEdit(): Promise<{ error: DiscordAPIError; token: string }> {
  const failed = new Promise<unknown>((resolve) =>
    client.once(Events.InteractionCreate, (interaction) => {
      if (!interaction.isChatInputCommand()) return resolve(new Error(`unexpected interaction type ${interaction.type}`));
      void (async () => {
        await interaction.deferReply();
        clock.advance(15 * 60_000 + 1);
        return interaction.editReply('50% separated').catch((error: unknown) => error);
      })().then(resolve);
    }),
  );
  const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });
  const error = await failed;
  if (!(error instanceof DiscordAPIError)) throw new Error(`expected a DiscordAPIError, got ${String(error)}`);
  return { error, token: handle.token };
}

describe('tokens in logs', () => {
  it('writes no interaction token when a real DiscordAPIError is logged the ways the bot logs errors', async () => {
    const { error, token } = await failedEdit();
    // The attack needs the token to be in the error: the request URL discord.js keeps on it.
    expect(error.url).toContain(token);

    const { logger, text } = captureLogger();
    logger.error({ err: error, interactionId: '1' }, 'interaction failed');
    logger.warn({ err: new Error('delivery failed', { cause: error }) }, 'delivery failed; it will be retried');
    logger.warn({ error, request: { method: error.method, url: error.url, body: error.requestBody } }, 'raw error');
    logger.warn(error);
    logger.child({ webhook: error.url }).warn({ err: error.message }, `PATCH ${error.url} failed`);

    const written = text();
    expect(written).toContain('Invalid Webhook Token');
    expect(written).not.toContain(token);
    expect(written).toContain(`/webhooks/${fake.applicationId}/[redacted]/messages/`);
  });
});
