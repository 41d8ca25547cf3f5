// The token store keeps the user's tokens in memory only: never in
// localStorage or sessionStorage, where any script on the origin (or a
// later visitor of a shared machine) could read them. A reload therefore
// means signing in again, which is the price of that guarantee.

export interface Tokens {
  accessToken: string;
  tokenType?: string; // "DPoP" when bound to the tab's key
  refreshToken?: string;
  expiresAt: number; // ms since the epoch
  scopes: string[];
  username?: string;
}

type Listener = (t: Tokens | null) => void;

export class TokenStore {
  private tokens: Tokens | null = null;
  private listeners = new Set<Listener>();

  get(): Tokens | null {
    return this.tokens;
  }

  set(t: Tokens | null): void {
    this.tokens = t;
    for (const l of this.listeners) {
      l(t);
    }
  }

  clear(): void {
    this.set(null);
  }

  /** subscribe calls l on every change and returns the unsubscribe function. */
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  hasScope(scope: string): boolean {
    return this.tokens?.scopes.includes(scope) ?? false;
  }
}

/** claims reads an access token's payload, for display only: mt5-api verifies it. */
export function claims(accessToken: string): Record<string, unknown> {
  const part = accessToken.split(".")[1];
  if (!part) {
    return {};
  }
  try {
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}
