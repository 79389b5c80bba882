/**
 * SES answers that say "not now" (the request was refused, nothing sent): the send step releases its ledger claim and
 * rethrows, and the state machine retries the turn with a long backoff (infra/constructs/sequences.ts).
 */
export const SES_THROTTLES = [
  'TooManyRequestsException',
  'LimitExceededException',
  'ThrottlingException',
  'SendingPausedException',
] as const;
