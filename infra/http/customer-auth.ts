/** Verifies the customer's bearer token on customer routes; resolves to the verified customer id (the JWT's `sub`). */
export interface CustomerAuthenticator {
  /** Rejects with an HttpProblem 401 when the header is missing or the token is not valid. */
  verify(authorization: string | undefined): Promise<string>;
}

export interface CustomerAuthOptions {
  /** HS256 shared secret. */
  readonly secret?: string | undefined;
  /** RS256/ES256 keys from a JWKS URL. Exactly one of `secret` and `jwksUrl`. */
  readonly jwksUrl?: string | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
}

// placeholder until the jose-based verifier lands (issue 11, customer identity)
export const createCustomerAuth = (_options: CustomerAuthOptions): CustomerAuthenticator => ({
  verify: () => Promise.reject(new Error('customer auth is not built yet')),
});
