// Public surface of @businessos/connector-runtime. Each export is named; internals stay internal.

// Execution
export { createRuntime, ExecutionError } from './execute.ts';
export type {
  ConnectionRef,
  ExecuteInput,
  ExecutionMeta,
  ExecutionResult,
  LoadedConnector,
  Runtime,
  RuntimeConfig,
  RuntimeDeps,
  TransformBatchInput,
  TransformOutcome,
  TriggerInput,
} from './execute.ts';
export { systemClock, silentLogger } from './clock.ts';
export type { Clock, RuntimeLogger } from './clock.ts';

// Artifacts
export { createDevArtifactStore, createMemoryArtifactStore, sha256Hex } from './artifacts/artifact-store.ts';
export type { Artifact, ArtifactStore } from './artifacts/artifact-store.ts';

// Vault
export { createVault } from './vault/vault.ts';
export type { Vault, VaultOptions } from './vault/vault.ts';
export { createMemoryVaultStore } from './vault/memory-store.ts';
export type { DataKeyRecord, SecretRecord, VaultStore } from './vault/types.ts';
export { generateMasterKey, loadOrCreateMasterKeyFile, masterKeyId, parseMasterKey } from './vault/master-key.ts';
export type { MasterKey } from './vault/master-key.ts';
export { rotateVaultKeys } from './vault/rotate.ts';
export type { RotationReport } from './vault/rotate.ts';

// Egress
export { createEgressClient } from './egress/egress-client.ts';
export type { EgressCall, EgressClient, EgressOptions, EgressStats, Resolver } from './egress/egress-client.ts';
export { addressDenial } from './egress/address-policy.ts';
export { createPinnedFetch } from './egress/pinned-fetch.ts';
export type { PinnedFetch, PinnedFetchOptions } from './egress/pinned-fetch.ts';
export { applyAuth, authHeaderName } from './egress/apply-auth.ts';
/** Form encoding of request bodies (`bodyType: 'form'`): the SDK's, re-exported. */
export { encodeForm } from '@businessos/connector-sdk/host';

// Redaction
export { createRedactor, REDACTED, secretsOf } from './redact.ts';
export type { Redactor } from './redact.ts';

// OAuth2
export { createTokenRefresher } from './oauth/token-refresher.ts';
export type { ConnectionStore, PlatformConfig, RefreshTarget, TokenRefresher, TokenRefresherOptions } from './oauth/token-refresher.ts';
export { acquireLock, createMemoryLock } from './oauth/lock.ts';
export type { Lock, LockLease } from './oauth/lock.ts';
export { createRedisLock } from './oauth/redis-lock.ts';

// Limits, resilience, metering
export { createScheduler } from './limits/scheduler.ts';
export type { Scheduler, SchedulerOptions, SchedulerStats } from './limits/scheduler.ts';
export { createCircuitBreakers } from './resilience/circuit-breaker.ts';
export type { CircuitBreakerOptions, CircuitBreakers, CircuitState } from './resilience/circuit-breaker.ts';
export { defaultRetryPolicy, isRetryableFailure, retryDelayMs } from './resilience/retry.ts';
export type { RetryPolicy } from './resilience/retry.ts';
export { createMemoryUsageSink, createUsageMeter } from './usage/usage.ts';
export type { UsageMeter, UsageMeterOptions, UsageQuery, UsageRecord, UsageSink } from './usage/usage.ts';

// Sandbox
export {
  canIsolateNetwork,
  createMemoryImageStore,
  createProcessPool,
  createQuarantine,
  createQuickJSEngine,
  createSandboxPool,
  DEFAULT_SANDBOX_LIMITS,
  engineBuildId,
  resolveLimits,
} from './sandbox/index.ts';
export type {
  EngineHostBridge,
  MemoryImageStoreOptions,
  ProcessPoolOptions,
  EngineSandbox,
  QuarantineEntry,
  Quarantine,
  QuarantineOptions,
  QuickJSEngineOptions,
  SandboxCall,
  SandboxEngine,
  SandboxHost,
  SandboxImageStore,
  SandboxJob,
  SandboxLimits,
  SandboxPool,
  SandboxPoolOptions,
  SandboxPoolStats,
  SandboxResult,
  SandboxStats,
} from './sandbox/index.ts';
