import { CryptoError } from '../errors.ts';

/** Stable error codes for the differential-privacy module; callers switch on `code`, never on the message. */
export type DpErrorCode =
  | 'DP_INVALID_PARAMETER'
  | 'DP_INVALID_EVENT'
  | 'DP_UNSUPPORTED_EVENT'
  | 'DP_UNREACHABLE'
  | 'DP_NUMERICAL';

export class DpError extends CryptoError<DpErrorCode> {}

export function invalidParameter(message: string): DpError {
  return new DpError('DP_INVALID_PARAMETER', message);
}

/** δ must lie strictly inside (0, 1): δ = 0 is pure DP (not what these accountants certify) and δ ≥ 1 is vacuous. */
export function assertDelta(delta: number): void {
  if (typeof delta !== 'number' || !Number.isFinite(delta) || delta <= 0 || delta >= 1) {
    throw invalidParameter(`delta must be a number in (0, 1), got ${String(delta)}`);
  }
}
