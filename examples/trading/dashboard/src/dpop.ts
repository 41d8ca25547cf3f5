// DPoP (RFC 9449) in the browser: the user's tokens are bound to a key
// pair made by Web Crypto with extractable: false, so the private key can
// sign but never be read, exported or sent anywhere. A script injected into
// the page could use the key while the page is open, but could carry away
// neither it nor a usable token: a token copied off the wire is refused
// without a proof, and proofs name one method and URL and are accepted
// once. The key is kept in IndexedDB (which stores the key object, not its
// bits) only so that it survives the redirect to Permiso's login page: the
// authorization code is bound to it (dpop_jkt) before the page unloads.
import { base64url, randomToken } from "./pkce";

const encoder = new TextEncoder();

function b64json(v: unknown): string {
  return base64url(encoder.encode(JSON.stringify(v)));
}

/** generateKeyPair makes a non-extractable ECDSA P-256 key pair (ES256). */
export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

/** thumbprint is the key's RFC 7638 JWK thumbprint: the jkt a bound token carries. */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  // The required members, in lexicographic order, without white space.
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(canonical))));
}

/** tokenHash is a proof's ath: the SHA-256 of the access token. */
export async function tokenHash(accessToken: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(accessToken))));
}

/** DPoP signs proofs with one key and remembers each server's nonce. */
export class DPoP {
  private nonces = new Map<string, string>();

  private constructor(
    private readonly privateKey: CryptoKey,
    private readonly jwk: JsonWebKey,
    readonly jkt: string,
  ) {}

  static async fromKeyPair(pair: CryptoKeyPair): Promise<DPoP> {
    if (pair.privateKey.extractable) {
      throw new Error("a DPoP key must not be extractable");
    }
    // Only the public half is exported; the private half cannot be.
    const full = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const jwk: JsonWebKey = { kty: full.kty, crv: full.crv, x: full.x, y: full.y };
    return new DPoP(pair.privateKey, jwk, await thumbprint(jwk));
  }

  /**
   * proof returns a DPoP proof for a request (RFC 9449 §4.2): htm, htu
   * (the URL without query and fragment), a fresh jti, iat, the server's
   * last nonce and, with an access token, its hash (ath).
   */
  async proof(method: string, url: string, accessToken?: string): Promise<string> {
    const u = new URL(url);
    const claims: Record<string, unknown> = {
      jti: randomToken(16),
      htm: method,
      htu: `${u.origin}${u.pathname}`,
      iat: Math.floor(Date.now() / 1000),
    };
    const nonce = this.nonces.get(u.origin);
    if (nonce) {
      claims.nonce = nonce;
    }
    if (accessToken) {
      claims.ath = await tokenHash(accessToken);
    }
    const input = `${b64json({ typ: "dpop+jwt", alg: "ES256", jwk: this.jwk })}.${b64json(claims)}`;
    // Web Crypto's ECDSA signature is already JWS's fixed-width R||S.
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, this.privateKey, encoder.encode(input));
    return `${input}.${base64url(new Uint8Array(sig))}`;
  }

  /**
   * remember keeps the DPoP-Nonce a server sent (§8, §9) and reports
   * whether it is new, so a request refused for want of it is retried once.
   */
  remember(url: string, res: Response): boolean {
    const n = res.headers.get("DPoP-Nonce");
    const origin = new URL(url).origin;
    if (!n || this.nonces.get(origin) === n) {
      return false;
    }
    this.nonces.set(origin, n);
    return true;
  }
}

/** KeyStore keeps the DPoP key pair across the sign-in redirect. */
export interface KeyStore {
  load(): Promise<CryptoKeyPair | null>;
  save(pair: CryptoKeyPair): Promise<void>;
  clear(): Promise<void>;
}

const DB = "permiso-dashboard";
const STORE = "dpop";
const KEY = "key-pair";

/** IndexedDBKeyStore stores the key objects (never their bits) in IndexedDB. */
export class IndexedDBKeyStore implements KeyStore {
  private open(): Promise<IDBDatabase> {
    return new Promise((resolve, reject) => {
      const req = indexedDB.open(DB, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
  }

  private async run<T>(mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest): Promise<T> {
    const db = await this.open();
    try {
      return await new Promise<T>((resolve, reject) => {
        const req = fn(db.transaction(STORE, mode).objectStore(STORE));
        req.onsuccess = () => resolve(req.result as T);
        req.onerror = () => reject(req.error);
      });
    } finally {
      db.close();
    }
  }

  async load(): Promise<CryptoKeyPair | null> {
    return (await this.run<CryptoKeyPair | undefined>("readonly", (s) => s.get(KEY))) ?? null;
  }

  async save(pair: CryptoKeyPair): Promise<void> {
    await this.run("readwrite", (s) => s.put(pair, KEY));
  }

  async clear(): Promise<void> {
    await this.run("readwrite", (s) => s.delete(KEY));
  }
}

/** MemoryKeyStore keeps the key pair in memory (tests, and browsers without IndexedDB). */
export class MemoryKeyStore implements KeyStore {
  private pair: CryptoKeyPair | null = null;

  async load(): Promise<CryptoKeyPair | null> {
    return this.pair;
  }

  async save(pair: CryptoKeyPair): Promise<void> {
    this.pair = pair;
  }

  async clear(): Promise<void> {
    this.pair = null;
  }
}
