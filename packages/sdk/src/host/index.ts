// Host-side helpers of @businessos/connector-sdk: they run in the platform (or the CLI), never in the sandbox.
export { applyAuth, authHeaderName, secretValues } from './apply-auth.ts';
export type { OutgoingRequest } from './apply-auth.ts';
export { generateDocs } from './docs.ts';
export { encodeForm } from './form.ts';
export { createLocalTransport, readResponse } from './local-transport.ts';
export type { LocalTransportOptions } from './local-transport.ts';
export { buildAuthorizeUrl, clientCredentialsToken, createPkcePair, exchangeCode, refreshAccessToken, resolveConfigRef, revokeToken } from './oauth2.ts';
export type { AuthorizeUrlInput, PlatformConfig } from './oauth2.ts';
export { createLocalEnv, runAction } from './run.ts';
export type { RunOptions } from './run.ts';
export { allowedHosts, assertUrlAllowed, fillHostTemplate, fillTemplate, fillUrlTemplate, isHostAllowed, mayCarryCredentials, resolveRequestUrl, resolveUrl } from './url.ts';
export type { CredentialHostOptions, HostCheckOptions } from './url.ts';
export { assertValid, compileSchema, formatIssues, toIssues, validateManifest, validateSchemaDefinition, validateValue } from './validate.ts';
export type { ValidationIssue, ValidationResult } from './validate.ts';
