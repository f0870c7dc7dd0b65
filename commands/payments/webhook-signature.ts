import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_TOLERANCE_SECONDS = 300;

const hmac = (secret: string, unixSeconds: string, rawBody: Buffer | string): Buffer =>
  createHmac('sha256', secret).update(`${unixSeconds}.`).update(rawBody).digest();

/** `Crest-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, signed with the first secret. */
export const signWebhook = (rawBody: Buffer | string, secret: string, unixSeconds: number): string => `t=${unixSeconds},v1=${hmac(secret, String(unixSeconds), rawBody).toString('hex')}`;

export type SignatureCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Checks the signature over the body's raw bytes. The header may carry several `v1=` values and several secrets may
 * be configured (old and new, while a secret is rotated): any value made with any secret passes.
 */
export const verifyWebhookSignature = (header: string | undefined, rawBody: Buffer | string, secrets: readonly string[], nowSeconds: number): SignatureCheck => {
  if (!header) return { ok: false, reason: 'The Crest-Signature header is missing' };
  let t: string | undefined;
  const given: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (eq < 0) return { ok: false, reason: 'The Crest-Signature header is malformed' };
    if (key === 't') t = value;
    else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) given.push(Buffer.from(value, 'hex'));
  }
  if (t === undefined || !/^\d{1,12}$/.test(t) || given.length === 0) return { ok: false, reason: 'The Crest-Signature header is malformed' };
  if (Math.abs(nowSeconds - Number(t)) > SIGNATURE_TOLERANCE_SECONDS) return { ok: false, reason: 'The signature timestamp is more than 300 s away' };
  for (const secret of secrets) {
    const expected = hmac(secret, t, rawBody);
    if (given.some((g) => timingSafeEqual(g, expected))) return { ok: true };
  }
  return { ok: false, reason: 'The signature does not match' };
};
