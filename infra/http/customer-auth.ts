import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyOptions } from 'jose';
import { identifier } from '../../domain/kernel/event';
import { HttpProblem } from './problem';

/** Verifies the customer's bearer token on customer routes; resolves to the verified customer id (the JWT's `sub`). */
export interface CustomerAuthenticator {
  /**
   * Rejects with an HttpProblem 401 when the header is missing or the token is not valid, and with a 503 when the
   * JWKS that would verify it cannot be fetched.
   */
  verify(authorization: string | undefined): Promise<string>;
}

export interface CustomerAuthOptions {
  /** HS256 shared secret. */
  readonly secret?: string | undefined;
  /** RS256/ES256 keys from a JWKS URL. Exactly one of `secret` and `jwksUrl`. */
  readonly jwksUrl?: string | undefined;
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  /** Allowed clock skew on `exp` and `nbf`, in seconds (default 5). */
  readonly clockToleranceSeconds?: number;
}

const BEARER = /^Bearer +(\S+) *$/i;
const JWKS_TIMEOUT_MS = 5000;
/** A token naming an unknown `kid` refetches the JWKS at most this often, so forged tokens cannot hammer the key server. */
const JWKS_COOLDOWN_MS = 30_000;

const challenge = (error?: string): Record<string, string> => ({ 'www-authenticate': error ? `Bearer error="${error}"` : 'Bearer' });

const rejected = (detail: string): HttpProblem => new HttpProblem('unauthorized', detail, {}, challenge('invalid_token'));

const reasonFor = (error: unknown): string => {
  if (error instanceof errors.JWTExpired) return 'The customer token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `The customer token's "${error.claim}" claim is not accepted`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "The customer token's algorithm is not accepted";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "The customer token's signature does not verify";
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return 'No single key of the key set verifies the customer token';
  return 'The customer token is not a valid JWT';
};

/** A failure to obtain the keys (network, timeout, a broken key set) is ours or the key server's, not the client's. */
const isKeySourceFailure = (error: unknown): boolean =>
  !(error instanceof errors.JOSEError) || error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid || error.code === errors.JOSEError.code;

/**
 * Verifies customer JWTs with jose: HS256 with a shared secret, or RS256/ES256 with keys from a JWKS URL. No other
 * algorithm (never `none`, never HS256 against the JWKS) is accepted; `exp` and `nbf` are checked when present.
 */
export const createCustomerAuth = (options: CustomerAuthOptions): CustomerAuthenticator => {
  if (!options.secret === !options.jwksUrl) throw new Error('customer auth needs exactly one of secret (HS256) and jwksUrl (RS256/ES256)');
  const verifyOptions: JWTVerifyOptions = {
    algorithms: options.secret ? ['HS256'] : ['RS256', 'ES256'],
    clockTolerance: options.clockToleranceSeconds ?? 5,
    ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
    ...(options.audience === undefined ? {} : { audience: options.audience }),
  };
  const secretKey = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { timeoutDuration: JWKS_TIMEOUT_MS, cooldownDuration: JWKS_COOLDOWN_MS }) : undefined;

  const verifyToken = async (token: string): Promise<JWTPayload> => {
    if (secretKey) return (await jwtVerify(token, secretKey, verifyOptions)).payload;
    return (await jwtVerify(token, jwks!, verifyOptions)).payload;
  };

  return {
    verify: async (authorization) => {
      if (!authorization) throw new HttpProblem('unauthorized', 'Send Authorization: Bearer <customer JWT>', {}, challenge());
      const match = BEARER.exec(authorization);
      if (!match) throw rejected('Authorization must be "Bearer <customer JWT>"');
      let payload: JWTPayload;
      try {
        payload = await verifyToken(match[1]!);
      } catch (error) {
        if (jwks && isKeySourceFailure(error)) {
          throw Object.assign(new HttpProblem('unavailable', 'The keys that verify customer tokens cannot be fetched; retry shortly', {}, { 'retry-after': '1' }), { cause: error });
        }
        throw rejected(reasonFor(error));
      }
      if (typeof payload.sub !== 'string' || !identifier.safeParse(payload.sub).success) throw rejected('The customer token has no usable "sub" claim');
      return payload.sub;
    },
  };
};
