// `@businessos/connector-sdk/testing`: the local simulator (OAuth2 provider, mock API, test harness, dev server).
// Host-side only: uses node:http and node:fs, never imported by connector bundles.
export { createTestHarness } from './harness.ts';
export type { HarnessOAuthOptions, LogEntry, RunOptions, TestHarness, TestHarnessOptions } from './harness.ts';
export { createMockApi, loadFixtureFiles } from './mock-api.ts';
export type { MockApi, MockApiAuth, MockApiOptions, RecordedRequest, RecordOptions } from './mock-api.ts';
export { createOAuthProvider } from './oauth-provider.ts';
export type { OAuthClientConfig, OAuthProvider, OAuthProviderOptions, TokenResponse, TokenStatus } from './oauth-provider.ts';
export { matchFixture, parseFixtures, partialMatch, renderTemplate } from './fixtures.ts';
export type { Fixture, FixtureRequest, FixtureResponder, FixtureResponse, MatchResult, TemplateScope } from './fixtures.ts';
export { REDACTED, redactHeaders, redactQuery, redactSecrets } from './redact.ts';
export { startDevServer } from './dev-server.ts';
export type { DevServer, DevServerOptions, DevServerUrls } from './dev-server.ts';
