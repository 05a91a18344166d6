import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  type Client,
  DiscordAPIError,
  Events,
  type Interaction,
  MessageFlags,
  ModalBuilder,
  PermissionFlagsBits,
  SlashCommandBuilder,
  type TextChannel,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallbackType, FakeDiscord, MessageFlag, TestClock } from './index.js';

const MIB = 1024 * 1024;
const GENERAL = '1100000000000000010';
const GUILD = '1100000000000000001';

/** Every host this test process sends HTTP to (REST through undici, the gateway's upgrade through node:http). */
const contactedHosts = new Set<string>();
const onUndici = (message: unknown) => contactedHosts.add(new URL((message as { request: { origin: string } }).request.origin).host);
const onHttp = (message: unknown) => {
  const request = (message as { request: { host: string; getHeader(name: string): unknown } }).request;
  contactedHosts.add(String(request.getHeader('host') ?? request.host));
};

beforeAll(() => {
  diagnostics.subscribe('undici:request:create', onUndici);
  diagnostics.subscribe('http.client.request.start', onHttp);
});

afterAll(() => {
  diagnostics.unsubscribe('undici:request:create', onUndici);
  diagnostics.unsubscribe('http.client.request.start', onHttp);
});

const separateCommand = new SlashCommandBuilder()
  .setName('separate')
  .setDescription('Split a song into stems')
  .addSubcommand((sub) =>
    sub
      .setName('file')
      .setDescription('From an uploaded file')
      .addAttachmentOption((o) => o.setName('song').setDescription('Audio file').setRequired(true))
      .addStringOption((o) => o.setName('model').setDescription('Model').setAutocomplete(true))
      .addIntegerOption((o) => o.setName('stems').setDescription('How many stems')),
  );

let clock: TestClock;
let fake: FakeDiscord;
let client: Client;

/** Runs `handler` on the next interaction the client receives and settles with its outcome. */
function handleNext<T>(handler: (interaction: Interaction) => Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    client.once(Events.InteractionCreate, (interaction) => handler(interaction).then(resolve, reject));
  });
}

function chatInput(interaction: Interaction) {
  if (!interaction.isChatInputCommand()) throw new Error(`expected a chat input command, got type ${interaction.type}`);
  return interaction;
}

function files(count: number, bytes = 16) {
  return Array.from({ length: count }, (_, i) => ({ attachment: Buffer.alloc(bytes, i), name: `stem-${i}.wav` }));
}

beforeEach(async () => {
  contactedHosts.clear();
  clock = new TestClock();
  fake = await FakeDiscord.start({ clock });
  client = await fake.loginClient();
});

afterEach(async () => {
  await client.destroy();
  await fake.close();
  // A route discord.js needs but the fake lacks would otherwise hide behind a swallowed 404.
  expect(fake.violations.filter((v) => v.kind === 'unknown-route')).toEqual([]);
});

describe('fake Discord with the real discord.js client', () => {
  it('logs in, becomes ready and caches the configured guild, and talks to no other host', async () => {
    expect(client.user?.id).toBe(fake.bot.id);
    expect(client.application?.id).toBe(fake.applicationId);
    const guild = client.guilds.cache.get(GUILD);
    expect(guild?.name).toBe('Fake Guild');
    const general = guild?.channels.cache.get(GENERAL);
    expect(general?.name).toBe('general');
    expect(guild?.roles.cache.map((r) => r.name).sort()).toEqual(['@everyone', 'Admins']);
    expect(guild?.members.me?.permissionsIn(GENERAL).has(PermissionFlagsBits.SendMessages)).toBe(true);
    expect(fake.gatewayStats.identifies).toBe(1);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toContain('GET /gateway/bot');
    expect([...contactedHosts]).toEqual([new URL(fake.url).host]);
  });

  it('stores commands registered by bulk overwrite, globally and per guild', async () => {
    const global = await client.application!.commands.set([separateCommand.toJSON()]);
    await client.application!.commands.set([{ name: 'ping', description: 'Ping' }], GUILD);

    expect(fake.commands().map((c) => c.name)).toEqual(['separate']);
    expect(fake.commands()[0]?.id).toBe(global.first()?.id);
    expect(fake.commands(GUILD).map((c) => c.name)).toEqual(['ping']);
    const again = await client.application!.commands.set([separateCommand.toJSON()]);
    expect(again.first()?.id).toBe(global.first()?.id);
  });

  it('delivers a slash command with a subcommand and an attachment, and records a deferred ephemeral reply edited with files', async () => {
    await client.application!.commands.set([separateCommand.toJSON()]);
    const song = fake.registerAttachment('song.mp3', Buffer.from('ID3 fake mp3 bytes'), 'audio/mpeg');
    const handled = handleNext(async (i) => {
      const interaction = chatInput(i);
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      const attachment = interaction.options.getAttachment('song', true);
      const downloaded = Buffer.from(await (await fetch(attachment.url)).arrayBuffer());
      await interaction.editReply({ content: 'Done: 2 stems', files: files(2) });
      return {
        commandName: interaction.commandName,
        subcommand: interaction.options.getSubcommand(),
        model: interaction.options.getString('model'),
        stems: interaction.options.getInteger('stems'),
        downloaded: downloaded.toString(),
        sizeLimit: interaction.attachmentSizeLimit,
        channelId: interaction.channelId,
        canAttach: interaction.appPermissions.has(PermissionFlagsBits.AttachFiles),
      };
    });

    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate', subcommand: 'file', options: { song, model: 'htdemucs', stems: 2 } });

    expect((await handle.waitForReply()).content).toBe('Done: 2 stems');
    expect(await handled).toEqual({
      commandName: 'separate',
      subcommand: 'file',
      model: 'htdemucs',
      stems: 2,
      downloaded: 'ID3 fake mp3 bytes',
      sizeLimit: 10 * MIB,
      channelId: GENERAL,
      canAttach: true,
    });
    expect(handle.callbacks.map((c) => c.type)).toEqual([CallbackType.deferredMessage]);
    const [reply] = handle.messages();
    expect(reply?.content).toBe('Done: 2 stems');
    expect(reply?.flags).toBe(MessageFlag.ephemeral);
    expect(reply?.attachments.map((a) => [a.filename, a.bytes.length])).toEqual([['stem-0.wav', 16], ['stem-1.wav', 16]]);
    expect(reply?.revisions.map((r) => [r.content, r.flags])).toEqual([['', MessageFlag.ephemeral | MessageFlag.loading], ['Done: 2 stems', MessageFlag.ephemeral]]);
    const edit = fake.requests.find((r) => r.method === 'PATCH');
    expect(edit?.files.map((f) => [f.field, f.name, f.bytes.length])).toEqual([['files[0]', 'stem-0.wav', 16], ['files[1]', 'stem-1.wav', 16]]);
    expect(fake.channelMessages(GENERAL)).toEqual([]);
  });

  it('sends an uploaded file slowly when throttled, and cuts it off mid-way when told to, recording each download', async () => {
    const bytes = Buffer.alloc(40_000, 7);
    const song = fake.registerAttachment('song.mp3', bytes, 'audio/mpeg');
    fake.throttleDownloads(200_000);
    const slow = fetch(song.url).then(async (reply) => Buffer.from(await reply.arrayBuffer()));
    // Caught in the middle: some bytes out, not all.
    await fake.waitFor(() => fake.downloads.find((d) => d.state === 'sending' && d.sent > 0 && d.sent < d.total));
    expect((await slow).equals(bytes)).toBe(true);
    fake.throttleDownloads(undefined);
    fake.cutDownloadsAfter(10_000);
    const reply = await fetch(song.url);
    await expect(reply.arrayBuffer()).rejects.toThrow();
    expect(fake.downloads.map((d) => [d.state, d.sent])).toEqual([['done', 40_000], ['cut', 10_000]]);
  });

  it('posts a channel message sent twice with the same enforced nonce once, as Discord does', async () => {
    const channel = (await client.channels.fetch(GENERAL)) as TextChannel;
    const first = await channel.send({ content: 'stems', nonce: 'delivery1', enforceNonce: true, allowedMentions: { parse: [] } });
    const again = await channel.send({ content: 'stems', nonce: 'delivery1', enforceNonce: true, allowedMentions: { parse: [] } });
    expect(again.id).toBe(first.id);
    expect(fake.channelMessages(GENERAL).map((m) => m.content)).toEqual(['stems']);
  });

  it('holds a matching request unanswered until released, and drops it unacted when its client goes away', async () => {
    const channel = (await client.channels.fetch(GENERAL)) as TextChannel;
    const hold = fake.holdRequests((request) => request.method === 'POST' && request.path === `/channels/${GENERAL}/messages`);
    const sent = channel.send({ content: 'held', allowedMentions: { parse: [] } });
    await hold.waitForHeld();
    expect(fake.channelMessages(GENERAL)).toEqual([]);
    hold.release();
    expect((await sent).content).toBe('held');
    expect(fake.channelMessages(GENERAL).map((m) => m.content)).toEqual(['held']);

    const second = fake.holdRequests((request) => request.method === 'POST');
    const abort = new AbortController();
    const dropped = fetch(`${fake.url}/api/v10/channels/${GENERAL}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'never' }),
      signal: abort.signal,
    }).catch(() => undefined);
    const held = await second.waitForHeld();
    abort.abort();
    await dropped;
    await fake.waitFor(() => held.status === 499 || undefined);
    second.release();
    expect(fake.channelMessages(GENERAL).map((m) => m.content)).toEqual(['held']);
  });

  it('answers a first callback after 3 s with 10062 Unknown interaction and records the violation', async () => {
    const handled = handleNext(async (i) => {
      clock.advance(3_001);
      return chatInput(i).deferReply().then(() => 'replied', (error: unknown) => error);
    });
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });

    const error = await handled;
    expect(error).toBeInstanceOf(DiscordAPIError);
    expect((error as DiscordAPIError).code).toBe(10062);
    expect(fake.violations.map((v) => [v.kind, v.interactionId])).toEqual([['late-first-callback', handle.id]]);
    expect(handle.messages()).toEqual([]);
  });

  it('refuses an 11th attachment with 50035 and a file over the size limit with 413 / 40005, and accepts 10', async () => {
    const outcomes = handleNext(async (i) => {
      const interaction = chatInput(i);
      await interaction.deferReply();
      const tooMany = await interaction.editReply({ files: files(11) }).catch((error: unknown) => error);
      const tooBig = await interaction.editReply({ files: [{ attachment: Buffer.alloc(10 * MIB + 1), name: 'huge.wav' }] }).catch((error: unknown) => error);
      await interaction.editReply({ content: 'ten stems', files: files(10) });
      return { tooMany, tooBig };
    });
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });

    const { tooMany, tooBig } = await outcomes;
    expect(tooMany).toBeInstanceOf(DiscordAPIError);
    expect([(tooMany as DiscordAPIError).status, (tooMany as DiscordAPIError).code]).toEqual([400, 50035]);
    expect([(tooBig as DiscordAPIError).status, (tooBig as DiscordAPIError).code]).toEqual([413, 40005]);
    const reply = handle.messages()[0];
    expect(reply?.content).toBe('ten stems');
    expect(reply?.attachments).toHaveLength(10);
    expect(reply?.revisions).toHaveLength(2);
  });

  it('answers an edit with 429 and discord.js retries it after retry-after', async () => {
    const edited = handleNext(async (i) => {
      const interaction = chatInput(i);
      await interaction.deferReply();
      fake.rateLimitNext({ method: 'PATCH', route: '/webhooks/:app/:token/messages/:message', retryAfter: 1 });
      await interaction.editReply('50% separated');
    });
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });
    await fake.waitForRequest((r) => r.method === 'PATCH' && r.status === 200);
    await edited;

    const edits = fake.requests.filter((r) => r.method === 'PATCH');
    expect(edits.map((r) => r.status)).toEqual([429, 200]);
    expect(edits[1]!.wallAt - edits[0]!.wallAt).toBeGreaterThanOrEqual(1000);
    expect(handle.messages()[0]?.content).toBe('50% separated');
  });

  it('rejects the interaction token 15 minutes after the interaction; the bot can still post in the channel', async () => {
    const outcome = handleNext(async (i) => {
      const interaction = chatInput(i);
      await interaction.deferReply();
      await interaction.editReply('started');
      clock.advance(15 * 60_000 + 1);
      const late = await interaction.editReply('finished').catch((error: unknown) => error);
      await (interaction.channel as TextChannel).send('finished (posted to the channel)');
      return late;
    });
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });

    const late = await outcome;
    expect([(late as DiscordAPIError).status, (late as DiscordAPIError).code]).toEqual([401, 50027]);
    expect(fake.violations.map((v) => v.kind)).toEqual(['expired-token']);
    expect(handle.messages().map((m) => m.content)).toEqual(['started']);
    expect(fake.channelMessages(GENERAL).map((m) => m.content)).toEqual(['started', 'finished (posted to the channel)']);
  });

  it('resumes after the gateway closes with 4000 and replays an interaction sent while disconnected', async () => {
    const resumed = once(client, Events.ShardResume);
    fake.dropGateway({ mode: 'close-4000' });
    const received = handleNext(async (i) => chatInput(i).reply('still here'));
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });
    await resumed;
    await received;

    expect(fake.gatewayStats.resumes).toBe(1);
    expect(fake.gatewayStats.identifies).toBe(1);
    expect(handle.messages().map((m) => m.content)).toEqual(['still here']);
  });

  it('identifies afresh when a torn-down connection cannot resume, and later interactions still arrive', async () => {
    const readyAgain = once(client, Events.ShardReady);
    fake.dropGateway({ mode: 'destroy', invalidateSession: true });
    await readyAgain;
    await fake.waitForGatewayReady();
    expect(fake.gatewayStats.invalidSessions).toBe(1);
    expect(fake.gatewayStats.identifies).toBe(2);

    const received = handleNext(async (i) => chatInput(i).reply('back'));
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });
    await received;
    expect(handle.messages().map((m) => m.content)).toEqual(['back']);
  });

  it('turns the first follow-up after a deferral into the reply, keeps later ones, and honours fetch and delete', async () => {
    const done = handleNext(async (i) => {
      const interaction = chatInput(i);
      const deferred = await interaction.deferReply({ withResponse: true });
      await interaction.followUp('queued, position 1');
      await interaction.followUp({ content: 'separating…', files: files(1) });
      const fetched = await interaction.fetchReply();
      await interaction.deleteReply();
      return { loading: deferred.interaction.responseMessageLoading, fetched: fetched.content };
    });
    const handle = fake.dispatchInteraction({ type: 'command', name: 'separate' });

    expect(await done).toEqual({ loading: true, fetched: 'queued, position 1' });
    expect(handle.original?.deleted).toBe(true);
    expect(handle.messages().map((m) => [m.content, m.attachments.length])).toEqual([['separating…', 1]]);
    expect(fake.channelMessages(GENERAL).map((m) => m.content)).toEqual(['separating…']);
  });

  it('routes a button click on a channel message and records the message update', async () => {
    const channel = client.channels.cache.get(GENERAL) as TextChannel;
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId('cancel:42').setLabel('Cancel').setStyle(ButtonStyle.Danger));
    const sent = await channel.send({ content: 'Separating…', components: [row] });
    const clicked = handleNext(async (i) => {
      if (!i.isButton()) throw new Error('expected a button');
      await i.update({ content: 'Cancelled', components: [] });
      return i.customId;
    });
    fake.dispatchInteraction({ type: 'component', customId: 'cancel:42', message: fake.message(sent.id)! });

    expect(await clicked).toBe('cancel:42');
    expect(fake.channelMessages(GENERAL).map((m) => [m.content, m.components.length])).toEqual([['Cancelled', 0]]);
  });

  it('acknowledges a click with a deferred update and edits the clicked message, or opens a modal', async () => {
    const channel = client.channels.cache.get(GENERAL) as TextChannel;
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId('options').setLabel('Options').setStyle(ButtonStyle.Secondary));
    const sent = await channel.send({ content: 'Result ready', components: [row] });
    const deferred = handleNext(async (i) => {
      if (!i.isButton()) throw new Error('expected a button');
      await i.deferUpdate();
      await i.editReply({ content: 'Result ready (options saved)' });
    });
    const first = fake.dispatchInteraction({ type: 'component', customId: 'options', message: fake.message(sent.id)! });
    await deferred;
    expect(first.callbacks.map((c) => c.type)).toEqual([CallbackType.deferredUpdate]);
    expect(fake.message(sent.id)?.revisions.map((r) => r.content)).toEqual(['Result ready', 'Result ready (options saved)']);

    const modal = new ModalBuilder()
      .setCustomId('rename')
      .setTitle('Rename')
      .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(new TextInputBuilder().setCustomId('name').setLabel('Name').setStyle(TextInputStyle.Short)));
    const shown = handleNext(async (i) => {
      if (!i.isButton()) throw new Error('expected a button');
      await i.showModal(modal);
    });
    const second = fake.dispatchInteraction({ type: 'component', customId: 'options', message: fake.message(sent.id)! });
    await shown;
    expect(second.modal).toMatchObject({ custom_id: 'rename', title: 'Rename' });
  });

  it('records autocomplete choices', async () => {
    await client.application!.commands.set([separateCommand.toJSON()]);
    const answered = handleNext(async (i) => {
      if (!i.isAutocomplete()) throw new Error('expected autocomplete');
      const typed = i.options.getFocused();
      await i.respond(['htdemucs', 'htdemucs_ft'].filter((m) => m.startsWith(typed)).map((m) => ({ name: m, value: m })));
    });
    const handle = fake.dispatchInteraction({ type: 'autocomplete', name: 'separate', subcommand: 'file', options: { model: 'htdemucs_' }, focused: 'model' });
    await answered;
    expect(handle.autocompleteChoices).toEqual([{ name: 'htdemucs_ft', value: 'htdemucs_ft' }]);
  });
});
