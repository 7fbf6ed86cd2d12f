/** Public API of `src/pivot` (see README.md beside this file). */
export type { CallControl, CallInfo, DtmfDigit, PlayOutcome, Prompt } from './call-control.js';
export { PivotSession, type PivotSessionOptions, type SessionResult } from './session.js';
export { PivotDebugStore, type PivotDebugRecord, type PivotDebugStoreOptions, type JsonErrorInfo } from './debug-store.js';
export { validateCallflow, isKnownModule, isCallflowNode, DTMF_KEYS, type CallflowNode, type EmptyNode, type Compat, type ValidationIssue, type ValidationResult } from './callflow.js';
export { WebhookClient, parseRetryFragment, DEFAULT_REQ_TIMEOUT_MS, DEFAULT_MAX_BODY_BYTES, type PivotRequest, type WebhookResult, type WebhookClientOptions, type RequestContext, type RetryClass } from './webhook.js';
export { buildParams, encodeForm, encodeJson, appendQuery, DEFAULT_API_VERSION, type ParamState, type PivotParams, type ParamValue, type ReqFormat } from './params.js';
export { PivotError, type PivotErrorCode, type WebhookFailureReason } from './errors.js';
export { runFlow, nextChild, DEFAULT_MAX_NODES, type FlowOutcome, type InterpreterOptions } from './interpreter.js';
export { DigitBuffer, type ModuleContext, type PivotModule, type Step, type CallerIdState } from './context.js';
export { MODULES } from './modules/index.js';
export { defaultMediaLoader } from './session.js';
export { storedFromRecords, EMPTY_STORED, type PivotStored, type StoredMedia, type StoredMenu, type StoredTemporalRule, type StoredRecords, type MediaSource } from './stored.js';
export { ruleMatches, localParts, isValidTimeZone } from './temporal.js';
export { translateTwiml, type TwimlResult } from './twiml/translate.js';
export { parseXml, type XmlElement, type XmlResult } from './twiml/xml.js';
