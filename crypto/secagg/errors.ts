import { CryptoError } from '../errors.ts';

/** Stable error codes for secure aggregation; callers switch on `code`, never on the message. */
export type SecAggErrorCode =
  | 'SECAGG_INVALID_PARAMETER'
  | 'SECAGG_BAD_SHARE'
  | 'SECAGG_NOT_NEIGHBOUR'
  | 'SECAGG_REFUSED'
  | 'SECAGG_TOO_FEW_SURVIVORS'
  | 'SECAGG_OVERFLOW';

export class SecAggError extends CryptoError<SecAggErrorCode> {}

export function invalidParameter(message: string): SecAggError {
  return new SecAggError('SECAGG_INVALID_PARAMETER', message);
}
