// Sign-in through Permiso's login page: the authorization-code flow with
// PKCE for a public client (no secret exists), refresh with the rotating
// refresh token, and sign-out by revoking the refresh token, which ends
// the Permiso session. Every token is bound to the tab's DPoP key (see
// dpop.ts): the code by dpop_jkt, the access and refresh tokens by a proof
// on every token request, and every API call carries a fresh proof.
import type { TokenSource } from "./api";
import type { Config } from "./config";
import { DPoP, generateKeyPair, IndexedDBKeyStore, MemoryKeyStore, type KeyStore } from "./dpop";
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
  token_type?: string;
  refresh_token?: string;
  expires_in: number;
  scope?: string;
}

export class AuthError extends Error {}

function defaultKeyStore(): KeyStore {
  return typeof indexedDB === "undefined" ? new MemoryKeyStore() : new IndexedDBKeyStore();
}

export class Auth implements TokenSource {
  private refreshing: Promise<Tokens> | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dpop: DPoP | null = null;
  private signingOut: Promise<void> | null = null;

  constructor(
    private cfg: Config,
    readonly store: TokenStore,
    private location: Location = window.location,
    private keys: KeyStore = defaultKeyStore(),
  ) {}

  /** key returns the tab's DPoP key, loading it after the sign-in redirect. */
  private async key(): Promise<DPoP> {
    if (!this.dpop) {
      const pair = await this.keys.load();
      if (!pair) {
        throw new AuthError("This tab's signing key is gone. Sign in again.");
      }
      this.dpop = await DPoP.fromKeyPair(pair);
    }
    return this.dpop;
  }

  redirectURI(): string {
    return this.cfg.redirect_uri ?? `${this.location.origin}/`;
  }

  /** signIn sends the browser to Permiso's authorization endpoint. */
  async signIn(): Promise<void> {
    await this.signingOut;
    // A new key for every sign-in; the code is bound to it (RFC 9449 §10).
    const pair = await generateKeyPair();
    await this.keys.save(pair);
    this.dpop = await DPoP.fromKeyPair(pair);
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
      dpop_jkt: this.dpop.jkt,
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

  private async tokenRequest(form: Record<string, string>, retried = false): Promise<Tokens> {
    const dpop = await this.key();
    const url = `${this.cfg.issuer}/oauth2/token`;
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", DPoP: await dpop.proof("POST", url) },
      body: new URLSearchParams(form),
    });
    const fresh = dpop.remember(url, res);
    const body = (await res.json().catch(() => ({}))) as Partial<TokenResponse> & { error?: string; error_description?: string };
    if (res.status === 400 && body.error === "use_dpop_nonce" && fresh && !retried) {
      return this.tokenRequest(form, true); // once, with the server's nonce (§8)
    }
    if (!res.ok || !body.access_token) {
      throw new AuthError(body.error_description ?? `The token endpoint answered HTTP ${res.status}`);
    }
    const c = claims(body.access_token);
    const scope = body.scope ?? (typeof c.scope === "string" ? c.scope : "");
    const tokens: Tokens = {
      accessToken: body.access_token,
      tokenType: body.token_type ?? "Bearer",
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

  /**
   * authorization returns the headers that present the access token for a
   * request: "Authorization: DPoP" and a proof for this method and URL (a
   * bearer token, if the server issued one, goes as "Bearer").
   */
  async authorization(method: string, url: string, t: Tokens | null = this.store.get()): Promise<Record<string, string>> {
    if (!t) {
      return {};
    }
    if (t.tokenType?.toLowerCase() !== "dpop") {
      return { Authorization: `Bearer ${t.accessToken}` };
    }
    const dpop = await this.key();
    return { Authorization: `DPoP ${t.accessToken}`, DPoP: await dpop.proof(method, url, t.accessToken) };
  }

  /** wantsNonce reports a 401 that asks for a DPoP nonce it sent (§9); a retry then carries it. */
  wantsNonce(url: string, res: Response): boolean {
    const fresh = this.dpop?.remember(url, res) ?? false;
    return fresh && res.status === 401 && /error="?use_dpop_nonce/.test(res.headers.get("WWW-Authenticate") ?? "");
  }

  /**
   * signOut revokes the tokens and forgets the key. Revoking the refresh
   * token ends the Permiso session it belongs to (docs/delegation.md); the
   * access token is for mt5-api, so Permiso's own API (its logout
   * included) refuses it. Whatever resolves first, the next sign-in waits
   * for this one: its key must not be deleted by an earlier sign-out.
   */
  signOut(): Promise<void> {
    this.signingOut ??= this.endSession().finally(() => {
      this.signingOut = null;
    });
    return this.signingOut;
  }

  private async endSession(): Promise<void> {
    clearTimeout(this.timer);
    const t = this.store.get();
    this.store.clear();
    if (t) {
      // Without a refresh token there is no session to end: the access
      // token itself is revoked.
      const [token, hint] = t.refreshToken ? [t.refreshToken, "refresh_token"] : [t.accessToken, "access_token"];
      await fetch(`${this.cfg.issuer}/oauth2/revoke`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, token_type_hint: hint, client_id: this.cfg.client_id }),
      }).catch(() => undefined);
    }
    await this.forgetKey();
  }

  private async forgetKey(): Promise<void> {
    this.dpop = null;
    await this.keys.clear().catch(() => undefined);
  }
}
