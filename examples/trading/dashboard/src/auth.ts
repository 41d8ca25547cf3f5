// Sign-in through Permiso's login page: the authorization-code flow with
// PKCE for a public client (no secret exists), refresh with the rotating
// refresh token, and sign-out by logout plus revocation.
import type { Config } from "./config";
import { challengeS256, createVerifier, randomToken } from "./pkce";
import { claims, TokenStore, type Tokens } from "./tokenStore";

// Only the PKCE verifier and state cross the redirect to the login page,
// in sessionStorage (this tab only), and they are removed on return. They
// are useless without the code, which is single-use and bound to them.
const PENDING_KEY = "permiso.dashboard.pending";

interface Pending {
  state: string;
  verifier: string;
}

interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  expires_in: number;
  scope?: string;
}

export class AuthError extends Error {}

export class Auth {
  private refreshing: Promise<Tokens> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private cfg: Config,
    readonly store: TokenStore,
    private location: Location = window.location,
  ) {}

  redirectURI(): string {
    return this.cfg.redirect_uri ?? `${this.location.origin}/`;
  }

  /** signIn sends the browser to Permiso's authorization endpoint. */
  async signIn(): Promise<void> {
    const verifier = createVerifier();
    const pending: Pending = { state: randomToken(24), verifier };
    sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
    const q = new URLSearchParams({
      response_type: "code",
      client_id: this.cfg.client_id,
      redirect_uri: this.redirectURI(),
      scope: this.cfg.scopes.join(" "),
      state: pending.state,
      code_challenge: await challengeS256(verifier),
      code_challenge_method: "S256",
      resource: this.cfg.audience,
    });
    this.location.assign(`${this.cfg.issuer}/oauth2/authorize?${q}`);
  }

  /**
   * completeSignIn finishes the flow when the page was opened by Permiso's
   * redirect (?code&state&iss). It returns false when there is nothing to do.
   */
  async completeSignIn(search: string): Promise<boolean> {
    const q = new URLSearchParams(search);
    if (!q.has("code") && !q.has("error")) {
      return false;
    }
    const raw = sessionStorage.getItem(PENDING_KEY);
    sessionStorage.removeItem(PENDING_KEY);
    const pending = raw ? (JSON.parse(raw) as Pending) : null;
    if (!pending || q.get("state") !== pending.state) {
      throw new AuthError("This sign-in answer does not belong to this tab. Sign in again.");
    }
    const iss = q.get("iss");
    if (iss && iss !== this.cfg.issuer) {
      throw new AuthError("The sign-in answer came from an unexpected issuer.");
    }
    if (q.has("error")) {
      throw new AuthError(q.get("error_description") ?? `Sign-in refused: ${q.get("error")}`);
    }
    await this.tokenRequest({
      grant_type: "authorization_code",
      code: q.get("code")!,
      redirect_uri: this.redirectURI(),
      code_verifier: pending.verifier,
      client_id: this.cfg.client_id,
    });
    return true;
  }

  private async tokenRequest(form: Record<string, string>): Promise<Tokens> {
    const res = await fetch(`${this.cfg.issuer}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
    const body = (await res.json().catch(() => ({}))) as Partial<TokenResponse> & { error_description?: string };
    if (!res.ok || !body.access_token) {
      throw new AuthError(body.error_description ?? `The token endpoint answered HTTP ${res.status}`);
    }
    const c = claims(body.access_token);
    const scope = body.scope ?? (typeof c.scope === "string" ? c.scope : "");
    const tokens: Tokens = {
      accessToken: body.access_token,
      refreshToken: body.refresh_token ?? this.store.get()?.refreshToken,
      expiresAt: Date.now() + (body.expires_in ?? 300) * 1000,
      scopes: scope.split(" ").filter(Boolean),
      username: typeof c.username === "string" ? c.username : (c.sub as string | undefined),
    };
    this.store.set(tokens);
    this.schedule(tokens);
    return tokens;
  }

  /** schedule renews the access token a minute before it expires. */
  private schedule(t: Tokens): void {
    clearTimeout(this.timer);
    if (!t.refreshToken) {
      return;
    }
    const wait = Math.max(5_000, t.expiresAt - Date.now() - 60_000);
    this.timer = setTimeout(() => {
      this.refresh().catch(() => this.store.clear());
    }, wait);
  }

  /** refresh spends the refresh token once, however many callers ask at the same time. */
  refresh(): Promise<Tokens> {
    const rt = this.store.get()?.refreshToken;
    if (!rt) {
      return Promise.reject(new AuthError("Your session has ended. Sign in again."));
    }
    this.refreshing ??= this.tokenRequest({
      grant_type: "refresh_token",
      refresh_token: rt,
      client_id: this.cfg.client_id,
    }).finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** signOut ends the Permiso session and revokes the refresh token. */
  async signOut(): Promise<void> {
    clearTimeout(this.timer);
    const t = this.store.get();
    this.store.clear();
    if (!t) {
      return;
    }
    const calls: Promise<unknown>[] = [
      fetch(`${this.cfg.issuer}/api/v1/auth/logout`, {
        method: "POST",
        headers: { Authorization: `Bearer ${t.accessToken}` },
      }),
    ];
    if (t.refreshToken) {
      calls.push(
        fetch(`${this.cfg.issuer}/oauth2/revoke`, {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ token: t.refreshToken, token_type_hint: "refresh_token", client_id: this.cfg.client_id }),
        }),
      );
    }
    await Promise.allSettled(calls);
  }
}
