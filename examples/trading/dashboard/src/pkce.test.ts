import { createHash } from "node:crypto";
import { challengeS256, createVerifier } from "./pkce";

describe("PKCE", () => {
  it("produces a valid S256 challenge: BASE64URL(SHA256(verifier)), 43 characters, no padding", async () => {
    const verifier = createVerifier();
    const challenge = await challengeS256(verifier);
    // An independent implementation (Node's crypto) must agree with Web Crypto's.
    expect(challenge).toBe(createHash("sha256").update(verifier, "ascii").digest("base64url"));
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("matches a fixed vector", async () => {
    expect(await challengeS256("dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc",
    );
  });

  it("creates verifiers of 43 unreserved characters that differ each time", () => {
    const a = createVerifier();
    const b = createVerifier();
    expect(a).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
    expect(a).not.toBe(b);
  });
});
