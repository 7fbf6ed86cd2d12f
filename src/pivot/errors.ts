/**
 * The closed set of Pivot error codes. Tests assert `code`, never message text.
 *
 * Webhook failures are not thrown: they come back as `{ kind: 'failure', reason }` where `reason`
 * is one of `WebhookFailureReason`. `PivotError` is thrown only for programming/configuration
 * errors (bad options, an invalid stored callflow handed to `PivotSession.run`).
 */
export type PivotErrorCode =
  | 'PIVOT_BAD_OPTIONS'
  | 'PIVOT_INVALID_CALLFLOW';

export class PivotError extends Error {
  readonly code: PivotErrorCode;
  constructor(code: PivotErrorCode, message: string) {
    super(message);
    this.name = 'PivotError';
    this.code = code;
  }
}

/** Why a webhook round trip produced no usable flow (see PIVOT.md 2.3). */
export type WebhookFailureReason =
  /** voice_url not http(s) or not parseable. */
  | 'bad_url'
  /** DNS error, connection refused/reset, TLS error. */
  | 'connect'
  /** `req_timeout_ms` elapsed (covers the whole request including the body). */
  | 'timeout'
  /** The call ended or the session stopped while the request was in flight. */
  | 'aborted'
  /** Any status other than 200. */
  | 'http_status'
  /** The response body exceeded the configured maximum. */
  | 'body_too_large'
  /** 200 with an empty (or whitespace-only) body. */
  | 'empty_body'
  /** The body was meant as JSON but does not parse. */
  | 'json_syntax'
  /** The JSON parsed but fails the callflow schema. */
  | 'schema'
  /** No translator recognised the body (e.g. JSON without Content-Type in strict mode). */
  | 'unrecognised'
  /** An XML (TwiML) reply: not yet supported. */
  | 'twiml_unsupported';
