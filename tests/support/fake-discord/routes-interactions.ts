import { apiMessage } from './api-message.js';
import { DiscordErrors } from './errors.js';
import type { Route, RouteContext, RouteResult } from './http.js';
import { CallbackType, type FakeInteraction, InteractionType } from './interactions.js';
import { applyMessageBody, checkMessageBody, MessageFlag, readMessageBody, type StoredMessage } from './messages.js';
import type { FakeState } from './state.js';

const MAX_AUTOCOMPLETE_CHOICES = 25;

/** `POST /interactions/:id/:token/callback` and the interaction webhook routes. */
export function interactionRoutes(state: FakeState): Route[] {
  const webhook = '/webhooks/:app/:token';
  const message = `${webhook}/messages/:message`;
  return [
    { method: 'POST', template: '/interactions/:id/:token/callback', auth: false, handle: (ctx) => callback(state, ctx) },
    { method: 'POST', template: webhook, auth: false, handle: (ctx) => followUp(state, ctx) },
    { method: 'GET', template: message, auth: false, handle: (ctx) => ok(apiMessage(state, webhookMessage(state, ctx))) },
    { method: 'PATCH', template: message, auth: false, handle: (ctx) => editWebhookMessage(state, ctx) },
    {
      method: 'DELETE',
      template: message,
      auth: false,
      handle: (ctx) => {
        webhookMessage(state, ctx).deleted = true;
        return { status: 204 };
      },
    },
  ];
}

function ok(body: unknown): RouteResult {
  return { status: 200, body };
}

function callback(state: FakeState, { params, request }: RouteContext): RouteResult {
  const interaction = state.interactions.get(params.id ?? '');
  if (!interaction || interaction.token !== params.token) throw DiscordErrors.unknownInteraction();
  const elapsed = request.at - interaction.dispatchedAt;
  if (interaction.acknowledged) {
    state.violate({ kind: 'double-acknowledge', detail: `second callback ${elapsed} ms after dispatch`, interactionId: interaction.id });
    throw DiscordErrors.alreadyAcknowledged();
  }
  if (elapsed > state.timing.firstCallbackMs) {
    state.violate({ kind: 'late-first-callback', detail: `first callback ${elapsed} ms after dispatch`, interactionId: interaction.id });
    throw DiscordErrors.unknownInteraction();
  }
  const { type, data } = (request.json ?? {}) as { type?: number; data?: unknown };
  applyCallback(state, interaction, type, data, request.files);
  interaction.callbacks.push({ type: type ?? 0, data, at: request.at });
  if (request.query.get('with_response') !== 'true') return { status: 204 };
  return ok(callbackResponse(state, interaction, type ?? 0));
}

function applyCallback(state: FakeState, interaction: FakeInteraction, type: number | undefined, data: unknown, files: RouteContext['request']['files']): void {
  const body = readMessageBody(data);
  const base = {
    channelId: interaction.payload.channel_id,
    guildId: interaction.payload.guild_id,
    authorId: state.bot.id,
    webhookId: state.applicationId,
    interactionId: interaction.id,
  };
  const ephemeral = (body.flags ?? 0) & MessageFlag.ephemeral;
  switch (type) {
    case CallbackType.message:
      checkMessageBody(body, files, state.limits);
      interaction.original = state.createMessage({ ...base, flags: ephemeral }, body, state.storeUploads(body, files));
      return;
    case CallbackType.deferredMessage:
      interaction.original = state.createMessage({ ...base, flags: ephemeral | MessageFlag.loading }, undefined);
      return;
    case CallbackType.deferredUpdate:
      interaction.original = requireSource(interaction);
      return;
    case CallbackType.updateMessage: {
      const source = requireSource(interaction);
      checkMessageBody(body, files, state.limits);
      applyMessageBody(source, body, state.storeUploads(body, files), state.limits, state.clock.now());
      interaction.original = source;
      return;
    }
    case CallbackType.autocompleteResult: {
      if (interaction.payload.type !== InteractionType.autocomplete) throw invalidCallbackType();
      const choices = (data as { choices?: unknown[] } | undefined)?.choices ?? [];
      if (choices.length > MAX_AUTOCOMPLETE_CHOICES) {
        throw DiscordErrors.invalidFormBody('data.choices', 'BASE_TYPE_MAX_LENGTH', `Must be ${MAX_AUTOCOMPLETE_CHOICES} or fewer in length.`);
      }
      interaction.autocompleteChoices = choices;
      return;
    }
    case CallbackType.modal:
      if (interaction.payload.type === InteractionType.autocomplete) throw invalidCallbackType();
      interaction.modal = data;
      return;
    default:
      throw invalidCallbackType();
  }
}

function invalidCallbackType() {
  return DiscordErrors.invalidFormBody('type', 'INTERACTION_CALLBACK_TYPE_INVALID', 'Interaction callback type is not valid here.');
}

function requireSource(interaction: FakeInteraction): StoredMessage {
  if (!interaction.sourceMessage) throw invalidCallbackType();
  return interaction.sourceMessage;
}

/** The body of a callback sent with `?with_response=true`. */
function callbackResponse(state: FakeState, interaction: FakeInteraction, type: number) {
  const original = interaction.original;
  return {
    interaction: {
      id: interaction.id,
      type: interaction.payload.type,
      ...(original
        ? {
            response_message_id: original.id,
            response_message_loading: (original.flags & MessageFlag.loading) !== 0,
            response_message_ephemeral: (original.flags & MessageFlag.ephemeral) !== 0,
          }
        : {}),
    },
    resource: { type, ...(original ? { message: apiMessage(state, original) } : {}) },
  };
}

/** The interaction a webhook URL's token belongs to, if the token is still valid. */
function webhookInteraction(state: FakeState, { params, request }: RouteContext): FakeInteraction {
  if (params.app !== state.applicationId) throw DiscordErrors.unknownWebhook();
  const interaction = [...state.interactions.values()].find((i) => i.token === params.token);
  if (!interaction) throw DiscordErrors.unknownWebhook();
  const age = request.at - interaction.dispatchedAt;
  if (age > state.timing.tokenLifetimeMs) {
    state.violate({ kind: 'expired-token', detail: `${request.method} ${request.route} ${age} ms after dispatch`, interactionId: interaction.id });
    throw DiscordErrors.invalidWebhookToken();
  }
  if (!interaction.acknowledged) throw DiscordErrors.unknownWebhook();
  return interaction;
}

function webhookMessage(state: FakeState, ctx: RouteContext): StoredMessage {
  const interaction = webhookInteraction(state, ctx);
  const id = ctx.params.message;
  const found = id === '@original' ? interaction.original : interaction.followups.find((m) => m.id === id) ?? (interaction.original?.id === id ? interaction.original : undefined);
  if (!found || found.deleted) throw DiscordErrors.unknownMessage();
  return found;
}

function editWebhookMessage(state: FakeState, ctx: RouteContext): RouteResult {
  const message = webhookMessage(state, ctx);
  const body = readMessageBody(ctx.request.json);
  checkMessageBody(body, ctx.request.files, state.limits);
  applyMessageBody(message, body, state.storeUploads(body, ctx.request.files), state.limits, ctx.request.at);
  return ok(apiMessage(state, message));
}

/** A follow-up; after a deferred reply, Discord turns the first one into the reply itself. */
function followUp(state: FakeState, ctx: RouteContext): RouteResult {
  const interaction = webhookInteraction(state, ctx);
  const body = readMessageBody(ctx.request.json);
  checkMessageBody(body, ctx.request.files, state.limits);
  const uploads = state.storeUploads(body, ctx.request.files);
  let message: StoredMessage;
  // A deleted deferral is gone: a later follow-up is a message of its own, as on Discord.
  if (interaction.original && !interaction.original.deleted && interaction.original.flags & MessageFlag.loading) {
    message = interaction.original;
    applyMessageBody(message, body, uploads, state.limits, ctx.request.at);
  } else {
    message = state.createMessage(
      {
        channelId: interaction.payload.channel_id,
        guildId: interaction.payload.guild_id,
        authorId: state.bot.id,
        webhookId: state.applicationId,
        interactionId: interaction.id,
        flags: (body.flags ?? 0) & MessageFlag.ephemeral,
      },
      body,
      uploads,
    );
    interaction.followups.push(message);
  }
  return ctx.request.query.get('wait') === 'false' ? { status: 204 } : ok(apiMessage(state, message));
}
