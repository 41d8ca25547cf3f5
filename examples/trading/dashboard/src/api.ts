// The mt5-api client: every call carries the user's access token with a
// DPoP proof for that call. A 401 gets one retry: with the API's nonce when
// it asked for one, else after a refresh; any other refusal becomes an
// ApiError carrying the API's own description (a 403 names the missing
// scope).

export interface Account {
  balance: number;
  equity: number;
  margin: number;
  free_margin: number;
  margin_level: number;
  currency: string;
}

export interface Trade {
  id: number;
  symbol: string;
  volume: number;
  type: "buy" | "sell";
  open_price: number;
  current_price: number;
  profit: number;
  open_time: string;
  status: string;
}

export interface Quote {
  symbol: string;
  bid: number;
  ask: number;
  spread: number;
  last_update: string;
}

export interface TradeRequest {
  symbol: string;
  volume: number;
  trade_type: "buy" | "sell";
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly missingScopes: string[] = [],
  ) {
    super(message);
  }
}

export interface TokenSource {
  /** authorization returns the headers presenting the token for a call (Authorization, DPoP). */
  authorization(method: string, url: string): Promise<Record<string, string>>;
  /** wantsNonce reports a 401 asking for a new DPoP nonce (and keeps it). */
  wantsNonce(url: string, res: Response): boolean;
  refresh(): Promise<unknown>;
}

export class Mt5Client {
  constructor(
    private base: string,
    private tokens: TokenSource,
    private fetchFn: typeof fetch = (...a) => fetch(...a),
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const url = `${this.base}${path}`;
    const headers: Record<string, string> = { Accept: "application/json", ...(await this.tokens.authorization(method, url)) };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    const res = await this.fetchFn(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status === 401 && !retried) {
      if (!this.tokens.wantsNonce(url, res)) {
        await this.tokens.refresh();
      }
      return this.call<T>(method, path, body, true);
    }
    const data = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const missing = Array.isArray(data.missing_scopes) ? (data.missing_scopes as string[]) : [];
      const desc = typeof data.error_description === "string" ? data.error_description : `HTTP ${res.status}`;
      throw new ApiError(res.status, String(data.error ?? ""), desc, missing);
    }
    return data as T;
  }

  account = () => this.call<Account>("GET", "/api/v1/account");
  trades = () => this.call<Trade[]>("GET", "/api/v1/trades");
  quote = (symbol: string) => this.call<Quote>("GET", `/api/v1/market/${encodeURIComponent(symbol)}`);
  open = (req: TradeRequest) => this.call<Trade>("POST", "/api/v1/trades", req);
  close = (id: number) => this.call<{ message: string; profit: number }>("DELETE", `/api/v1/trades/${id}`);
  stats = () => this.call<Record<string, unknown>>("GET", "/api/v1/admin/stats");
}

/** describe turns an error into a sentence for the user. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 403) {
      const scopes = err.missingScopes.length ? ` (missing scope: ${err.missingScopes.join(", ")})` : "";
      return `Permission denied: ${err.message}${scopes}.`;
    }
    if (err.status === 401) {
      return "Your session has ended. Sign in again.";
    }
    return err.message;
  }
  if (err instanceof TypeError) {
    return "The trading API cannot be reached.";
  }
  return err instanceof Error ? err.message : String(err);
}
