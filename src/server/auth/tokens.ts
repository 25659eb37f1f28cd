/**
 * Tokens: JWTs with `sub` (user), `dev` (device) and `exp` (seconds, as the
 * standard says).
 *
 * The node signs its own (HS256 with its secret) for built-in accounts, and
 * also accepts tokens signed by the operator's key (a PEM public key for
 * RS256/ES256/EdDSA, or an HS256 secret; optional issuer and audience), so
 * an operator can keep its own identity system. Verification is `jose`'s;
 * `exp` is required, with 5 s of clock tolerance.
 */
import { SignJWT, jwtVerify, importSPKI, type JWTPayload, type CryptoKey } from 'jose';
import { createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperatorKey } from '../config.js';
import { isDevice, isUser } from '../../protocol/ids.js';

export interface TokenClaims {
  user: string;
  device: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  /** When the token was issued (`iat`), ms since the epoch; 0 when it does not say. */
  issuedAt: number;
}

export class TokenError extends Error {
  readonly code = 'unauthorized';
}

export class Tokens {
  private constructor(
    private readonly ownKey: Uint8Array,
    private readonly operatorKey: CryptoKey | Uint8Array | null,
    private readonly operator: OperatorKey | undefined,
    private readonly ttlS: number,
  ) {}

  static async create(o: { secret: string; ttlS: number; operator?: OperatorKey }): Promise<Tokens> {
    let opKey: CryptoKey | Uint8Array | null = null;
    if (o.operator?.secret) opKey = new TextEncoder().encode(o.operator.secret);
    else if (o.operator?.publicKey) {
      const k = createPublicKey(o.operator.publicKey);
      const alg = k.asymmetricKeyType === 'rsa' ? 'RS256' : k.asymmetricKeyType === 'ec' ? 'ES256' : 'EdDSA';
      opKey = await importSPKI(o.operator.publicKey, alg);
    }
    return new Tokens(new TextEncoder().encode(o.secret), opKey, o.operator, o.ttlS);
  }

  async sign(user: string, device: string, nowMs = Date.now()): Promise<{ token: string; expiresAt: number }> {
    const exp = Math.floor(nowMs / 1000) + this.ttlS;
    const token = await new SignJWT({ dev: device })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(user)
      .setIssuedAt(Math.floor(nowMs / 1000))
      .setExpirationTime(exp)
      .sign(this.ownKey);
    return { token, expiresAt: exp * 1000 };
  }

  /** Verifies with the node's key, then the operator's; throws TokenError. */
  async verify(token: string): Promise<TokenClaims> {
    let payload: JWTPayload | null = null;
    try {
      payload = (await jwtVerify(token, this.ownKey, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'], clockTolerance: 5 })).payload;
    } catch (e) {
      if (this.operatorKey === null) throw new TokenError(reason(e));
      try {
        payload = (
          await jwtVerify(token, this.operatorKey, {
            requiredClaims: ['exp', 'sub'],
            clockTolerance: 5,
            ...(this.operator?.issuer ? { issuer: this.operator.issuer } : {}),
            ...(this.operator?.audience ? { audience: this.operator.audience } : {}),
          })
        ).payload;
      } catch (e2) {
        throw new TokenError(reason(e2));
      }
    }
    const user = payload.sub;
    const device = (payload as { dev?: unknown }).dev;
    if (!isUser(user)) throw new TokenError('token sub is not a valid user id');
    if (!isDevice(device)) throw new TokenError('token dev is not a valid device id');
    return { user, device, expiresAt: (payload.exp ?? 0) * 1000, issuedAt: (typeof payload.iat === 'number' ? payload.iat : 0) * 1000 };
  }
}

function reason(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code === 'ERR_JWT_EXPIRED') return 'token expired';
  return `token rejected (${code ?? (e as Error).message})`;
}

/** The node's secret: the configured one, or one made once and kept in the data directory. */
export function nodeSecret(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'node-secret');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const s = randomBytes(32).toString('base64url');
    writeFileSync(file, s + '\n', { mode: 0o600, flag: 'wx' });
    return s;
  }
}
