// PKCE (RFC 7636) with the S256 method, on Web Crypto.

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    s += String.fromCharCode(b);
  }
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** randomToken returns n random bytes, base64url encoded. */
export function randomToken(n = 32): string {
  const bytes = new Uint8Array(n);
  crypto.getRandomValues(bytes);
  return base64url(bytes);
}

/** createVerifier returns a code verifier: 43 characters from 32 random bytes (RFC 7636 §4.1). */
export function createVerifier(): string {
  return randomToken(32);
}

/** challengeS256 is BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 §4.2). */
export async function challengeS256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
