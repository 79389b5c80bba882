import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { z } from 'zod';
import { DomainError, type FieldError } from '../errors.ts';

/** RFC 9457 problem details, with our stable `code` and field-level errors. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  instance?: string;
  fieldErrors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  301: 'Moved Permanently',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export function problemResponse(
  problem: Problem,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json', ...headers },
    body: JSON.stringify(problem),
  };
}

/** Maps a thrown value to problem+json. Unknown errors become an opaque 500 with the request id, nothing more. */
export function toProblem(error: unknown, requestId: string): Problem {
  if (error instanceof DomainError) {
    const { fieldErrors, ...extra } = error.extra;
    return {
      type: `https://errors.crm.dev/${error.code}`,
      title: TITLES[error.status] ?? 'Error',
      status: error.status,
      detail: error.message,
      code: error.code,
      instance: requestId,
      ...(fieldErrors && fieldErrors.length > 0 ? { fieldErrors } : {}),
      ...extra,
    };
  }
  return {
    type: 'https://errors.crm.dev/internal',
    title: TITLES[500]!,
    status: 500,
    detail: 'An unexpected error occurred. Quote the instance id when reporting it.',
    code: 'internal',
    instance: requestId,
  };
}

/** zod issues as field errors, with paths prefixed by where they came from (body, query, path). */
export function fieldErrorsFrom(error: z.ZodError, location: 'body' | 'query' | 'path' | 'header'): FieldError[] {
  return error.issues.map((issue) => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const path = [location, ...issue.path.map(String)];
    return {
      field: keys.length > 0 ? `${path.join('.')}.${keys.join(',')}` : path.join('.'),
      message: issue.message,
      code: issue.code,
    };
  });
}
