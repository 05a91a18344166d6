/** OAuth v2 as Slack runs it: the authorize page (approved at once by a chosen user) and `oauth.v2.access`. */
import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { SlackApiError } from './http.js';
import type { FakeSlackState } from './state.js';
import { BOT_SCOPES } from './world.js';

export interface OAuthAppConfig {
  clientId: string;
  clientSecret: string;
  appId: string;
  /** The Redirect URL configured for the app; used when the authorize URL names none. */
  redirectUrl?: string;
}

/** Who clicks "Allow" on the next visit to the authorize page; `deny` clicks "Cancel". */
export interface Approval {
  teamId: string;
  userId: string;
  deny?: boolean;
}

/** A completed exchange: what the workspace granted. */
export interface RecordedInstall {
  teamId: string;
  userId: string;
  botToken: string;
  scopes: string[];
  at: number;
}

interface IssuedCode {
  teamId: string;
  userId: string;
  scopes: string[] | undefined;
  userScopes: string[];
  redirectUri: string | undefined;
  issuedAt: number;
  used: boolean;
}

/** Slack's codes expire after 10 minutes. */
const CODE_LIFETIME_MS = 10 * 60_000;

const exchangeArgs = z.object({
  code: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
  redirect_uri: z.string().optional(),
});

export class FakeOAuth {
  private readonly codes = new Map<string, IssuedCode>();
  readonly installs: RecordedInstall[] = [];
  /** Every visit to the authorize page: its query. */
  readonly authorizeVisits: URLSearchParams[] = [];
  nextApproval?: Approval;

  constructor(
    private readonly state: FakeSlackState,
    readonly config: OAuthAppConfig,
  ) {}

  /** GET `/oauth/v2/authorize`: approves at once and redirects back with a code (or `error=access_denied`). */
  authorize(query: URLSearchParams, res: ServerResponse): void {
    this.authorizeVisits.push(query);
    this.state.notify();
    const refuse = (error: string) => res.writeHead(400, { 'content-type': 'text/html' }).end(`<html><body>OAuth error: ${error}</body></html>`);
    if (query.get('client_id') !== this.config.clientId) return void refuse('invalid_client_id');
    const given = query.get('redirect_uri') ?? undefined;
    const configured = this.config.redirectUrl;
    if (given !== undefined && configured !== undefined && !given.startsWith(configured)) return void refuse('bad_redirect_uri');
    const target = given ?? configured;
    if (target === undefined) return void refuse('no_redirect_uri');
    const approval = this.nextApproval ?? this.defaultApproval();
    const location = new URL(target);
    const state = query.get('state');
    if (state !== null) location.searchParams.set('state', state);
    if (approval.deny) {
      location.searchParams.set('error', 'access_denied');
    } else {
      const code = `${Date.now()}.${randomBytes(12).toString('hex')}`;
      const list = (name: string) => (query.get(name) ?? '').split(',').filter(Boolean);
      this.codes.set(code, {
        teamId: approval.teamId,
        userId: approval.userId,
        scopes: query.has('scope') ? list('scope') : undefined,
        userScopes: list('user_scope'),
        redirectUri: given,
        issuedAt: Date.now(),
        used: false,
      });
      location.searchParams.set('code', code);
    }
    res.writeHead(302, { location: location.toString() }).end();
  }

  /** `oauth.v2.access`. Client credentials as arguments or HTTP Basic, as Slack accepts both. */
  exchange(args: Record<string, unknown>, basic: { clientId: string; clientSecret: string } | undefined): Record<string, unknown> {
    const parsed = exchangeArgs.parse(args);
    const clientId = parsed.client_id ?? basic?.clientId;
    const clientSecret = parsed.client_secret ?? basic?.clientSecret;
    if (clientId !== this.config.clientId) throw new SlackApiError('invalid_client_id');
    if (clientSecret !== this.config.clientSecret) throw new SlackApiError('bad_client_secret');
    const issued = parsed.code === undefined ? undefined : this.codes.get(parsed.code);
    if (!issued || issued.used || Date.now() - issued.issuedAt > CODE_LIFETIME_MS) throw new SlackApiError('invalid_code');
    if (issued.redirectUri !== undefined && parsed.redirect_uri !== issued.redirectUri) throw new SlackApiError('bad_redirect_uri');
    issued.used = true;
    const team = this.state.team(issued.teamId);
    if (!team) throw new SlackApiError('team_not_found');
    team.bot.token ??= `xoxb-${team.domain}-${randomBytes(8).toString('hex')}`;
    team.bot.scopes = issued.scopes ?? [...BOT_SCOPES];
    this.installs.push({ teamId: team.id, userId: issued.userId, botToken: team.bot.token, scopes: team.bot.scopes, at: Date.now() });
    return {
      access_token: team.bot.token,
      token_type: 'bot',
      scope: team.bot.scopes.join(','),
      bot_user_id: team.bot.userId,
      app_id: this.config.appId,
      team: { id: team.id, name: team.name },
      enterprise: null,
      is_enterprise_install: false,
      authed_user: { id: issued.userId, ...(issued.userScopes.length > 0 ? { scope: issued.userScopes.join(','), access_token: `xoxp-${randomBytes(8).toString('hex')}`, token_type: 'user' } : {}) },
    };
  }

  /** The first workspace without a bot token, approved by its first human user; else the first workspace. */
  private defaultApproval(): Approval {
    const teams = this.state.world.teams;
    const team = teams.find((t) => t.bot.token === undefined) ?? teams[0];
    const user = this.state.world.users.find((u) => u.teamId === team?.id && !u.isBot);
    if (!team || !user) throw new Error('fake-slack: no workspace with a user to approve the install');
    return { teamId: team.id, userId: user.id };
  }
}
