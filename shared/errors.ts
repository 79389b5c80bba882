/**
 * Domain errors carry an HTTP status and a stable machine-readable `code`. One middleware turns them into
 * application/problem+json (RFC 9457); anything else is an internal error whose details are never shown.
 */
export interface FieldError {
  /** JSON pointer-ish dotted path of the offending field, e.g. `emails.1` or `body.firstName`. */
  field: string;
  message: string;
  code?: string;
}

export class DomainError extends Error {
  /** Response headers the problem carries (e.g. a public endpoint's CORS headers for an allowed origin). */
  headers?: Record<string, string>;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { fieldErrors?: FieldError[]; [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A record that moved for good (a merged record): 301 with Location, and a problem body saying where. */
export class MovedPermanentlyError extends DomainError {
  constructor(
    code: string,
    message: string,
    readonly location: string,
    extra: Record<string, unknown> = {},
  ) {
    super(301, code, message, extra);
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, fieldErrors: FieldError[] = [], code = 'request.invalid') {
    super(400, code, message, { fieldErrors });
  }
}

export class UnauthorizedError extends DomainError {
  constructor(message = 'A valid bearer token is required.') {
    super(401, 'auth.unauthorized', message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'Your roles do not allow this operation.') {
    super(403, 'auth.forbidden', message);
  }
}

export class NotFoundError extends DomainError {
  constructor(entity: string, id: string) {
    super(404, `${entity}.not_found`, `${entity} ${id} was not found.`, { entity, id });
  }
}

export class PreconditionFailedError extends DomainError {
  constructor(entity: string, id: string) {
    super(412, `${entity}.version_mismatch`, `${entity} ${id} has changed since you read it; fetch it and retry.`);
  }
}

export class PreconditionRequiredError extends DomainError {
  constructor() {
    super(428, 'request.precondition_required', 'This operation requires an If-Match header.');
  }
}

export class TooManyRequestsError extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      429,
      'request.quota_exceeded',
      `Your organisation's request quota for this period is spent; retry in ${retryAfterSeconds} s.`,
      { retryAfterSeconds },
    );
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, message: string, extra: Record<string, unknown> = {}) {
    super(409, code, message, extra);
  }
}

export class IdempotencyKeyReusedError extends DomainError {
  constructor() {
    super(
      422,
      'idempotency.key_reused',
      'This Idempotency-Key was already used with a different request; use a new key for a new request.',
    );
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(limitBytes: number) {
    super(413, 'request.too_large', `The request body exceeds ${limitBytes} bytes.`);
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  constructor() {
    super(415, 'request.unsupported_media_type', 'Send the request body as application/json.');
  }
}

/** Thrown by a write that lost its Idempotency-Key race or repeated it: the first response is replayed. */
export class IdempotentReplay extends Error {
  constructor(readonly key: string) {
    super(`Idempotency-Key ${key} was already used`);
  }
}
