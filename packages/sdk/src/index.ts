// Public surface of @businessos/connector-sdk. Everything here is safe inside the sandbox:
// no Node built-ins. Host-side helpers live in `@businessos/connector-sdk/host`, the simulator in `/testing`.
export { Connector, humanize, hostOf, isConnector } from './connector.ts';
export type {
  ActionContext,
  ActionDefinition,
  ActionExample,
  ActionManifest,
  AnyActionDefinition,
  ConnectorDefinition,
  ConnectorManifest,
  ExecutionEnv,
  Logger,
  LogLevel,
  PollingTriggerSpec,
  SecretSource,
  SignatureSpec,
  TriggerDefinition,
  TriggerManifest,
  TriggerOperation,
  WebhookDelivery,
  WebhookSubscription,
  WebhookTriggerSpec,
} from './connector.ts';
export { defineAction, defineConnector, defineTrigger } from './define.ts';
export { ApiKeyAuth, AuthHandler, BasicAuth, BearerTokenAuth, NoAuth, OAuth2Auth, toAuthSpec } from './auth.ts';
export type {
  ApiKeyAuthSpec,
  AuthSpec,
  AuthType,
  BasicAuthSpec,
  BearerTokenAuthSpec,
  ConnectionField,
  ConnectionFields,
  Credentials,
  NoAuthSpec,
  OAuth2AuthSpec,
  OAuth2Options,
} from './auth.ts';
export {
  AuthExpiredError,
  ConnectorError,
  ERROR_CATALOGUE,
  errorStatus,
  fromErrorData,
  InvalidInputError,
  isConnectorError,
  isErrorCode,
  isRetryable,
  NonRetryableError,
  NotFoundError,
  RateLimitedError,
  TimeoutError,
  toErrorData,
  UpstreamError,
} from './errors.ts';
export type { ErrorCode, ErrorData } from './errors.ts';
export { createHttpClient, errorFromResponse, parseRetryAfter } from './http.ts';
export type { HttpClient, HttpMethod, HttpRequest, HttpResponse, Json, QueryValue, RequestOptions, Transport } from './http.ts';
export { collect, paginate, parseLinkNext } from './pagination.ts';
export type { PaginateOptions, PaginationStrategy } from './pagination.ts';
export { isFullSchema, normalizeSchema } from './schema.ts';
export type { Infer, InferOutput, JsonSchema, NormalizedShorthand, SchemaInput, SchemaLike, SchemaShorthand } from './schema.ts';
export { createMemoryStore } from './store.ts';
export type { KeyValueStore } from './store.ts';
