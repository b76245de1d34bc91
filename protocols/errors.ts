import { status as GrpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';

/**
 * Every failure that can cross the wire has one stable code. The code decides the gRPC status
 * here, in one table, so the coordinator never picks statuses ad hoc and a client can branch on
 * `code` without parsing messages.
 */
export const ERROR_STATUS = {
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  TOKEN_EXPIRED: GrpcStatus.UNAUTHENTICATED,
  TOKEN_REVOKED: GrpcStatus.PERMISSION_DENIED,
  FORBIDDEN: GrpcStatus.PERMISSION_DENIED,
  NOT_SELECTED: GrpcStatus.PERMISSION_DENIED,
  /** A site signed with another identity key than the one the coordinator pinned for it. */
  IDENTITY_MISMATCH: GrpcStatus.PERMISSION_DENIED,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  LAYOUT_MISMATCH: GrpcStatus.INVALID_ARGUMENT,
  NON_FINITE_VALUE: GrpcStatus.INVALID_ARGUMENT,
  MALFORMED_STREAM: GrpcStatus.INVALID_ARGUMENT,
  /** The coordinator's bounds refused this update (norm beyond the bound): the site is out of this round, not the federation. */
  UPDATE_REFUSED: GrpcStatus.INVALID_ARGUMENT,
  DIGEST_MISMATCH: GrpcStatus.DATA_LOSS,
  /** The privacy ledger does not verify (edited, truncated, re-signed): nothing is admitted until it is restored. */
  LEDGER_INVALID: GrpcStatus.DATA_LOSS,
  DUPLICATE_SUBMISSION: GrpcStatus.ALREADY_EXISTS,
  ROUND_CLOSED: GrpcStatus.FAILED_PRECONDITION,
  FEDERATION_STATE: GrpcStatus.FAILED_PRECONDITION,
  BUDGET_EXCEEDED: GrpcStatus.FAILED_PRECONDITION,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  /** A resumed transfer that does not continue the one that was cut (other bytes, other offset): send it whole. */
  RESUME_MISMATCH: GrpcStatus.FAILED_PRECONDITION,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  MESSAGE_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  /** A token's call rate or open calls are over the coordinator's per-token limits: back off and retry. */
  RATE_LIMITED: GrpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
} as const satisfies Record<string, GrpcStatus>;

export type ErrorCode = keyof typeof ERROR_STATUS;

const CODE_METADATA_KEY = 'conclave-error-code';

export class ConclaveError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConclaveError';
    this.code = code;
  }

  get grpcStatus(): GrpcStatus {
    return ERROR_STATUS[this.code];
  }
}

/** Converts anything thrown in a handler into what grpc-js sends; unknown errors become INTERNAL without leaking details. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof ConclaveError) {
    metadata.set(CODE_METADATA_KEY, err.code);
    return { code: err.grpcStatus, details: err.message, metadata };
  }
  metadata.set(CODE_METADATA_KEY, 'INTERNAL');
  return { code: GrpcStatus.INTERNAL, details: 'internal error', metadata };
}

/** Recovers the stable code from a gRPC error on the client side. */
export function fromServiceError(err: unknown): ConclaveError {
  if (err instanceof ConclaveError) return err;
  const e = err as Partial<ServiceError> | undefined;
  const fromMeta = e?.metadata?.get(CODE_METADATA_KEY)[0];
  const code = typeof fromMeta === 'string' && fromMeta in ERROR_STATUS ? (fromMeta as ErrorCode) : codeForStatus(e?.code);
  return new ConclaveError(code, e?.details ?? (err instanceof Error ? err.message : String(err)), { cause: err });
}

function codeForStatus(status: number | undefined): ErrorCode {
  switch (status) {
    case GrpcStatus.UNAUTHENTICATED: return 'UNAUTHENTICATED';
    case GrpcStatus.PERMISSION_DENIED: return 'FORBIDDEN';
    case GrpcStatus.INVALID_ARGUMENT: return 'INVALID_ARGUMENT';
    case GrpcStatus.DATA_LOSS: return 'DIGEST_MISMATCH';
    case GrpcStatus.ALREADY_EXISTS: return 'ALREADY_EXISTS';
    case GrpcStatus.FAILED_PRECONDITION: return 'FEDERATION_STATE';
    case GrpcStatus.NOT_FOUND: return 'NOT_FOUND';
    case GrpcStatus.RESOURCE_EXHAUSTED: return 'MESSAGE_TOO_LARGE';
    case GrpcStatus.UNAVAILABLE: case GrpcStatus.DEADLINE_EXCEEDED: return 'UNAVAILABLE';
    default: return 'INTERNAL';
  }
}
