// Public surface of the sandbox layer.
export { engineBuildId } from './engine-build.ts';
export { createMemoryImageStore } from './image-store.ts';
export type { MemoryImageStoreOptions, SandboxImageStore } from './image-store.ts';
export { createSandboxPool, DEFAULT_SANDBOX_LIMITS, resolveLimits } from './pool.ts';
export type { SandboxPoolOptions } from './pool.ts';
export { canIsolateNetwork, createProcessPool } from './process-pool.ts';
export type { ProcessPoolOptions } from './process-pool.ts';
export { createQuarantine } from './quarantine.ts';
export type { Quarantine, QuarantineOptions } from './quarantine.ts';
export { createQuickJSEngine } from './quickjs-engine.ts';
export type { QuickJSEngineOptions } from './quickjs-engine.ts';
export type {
  EngineHostBridge,
  EngineSandbox,
  QuarantineEntry,
  SandboxCall,
  SandboxEngine,
  SandboxHost,
  SandboxJob,
  SandboxLimits,
  SandboxPool,
  SandboxPoolStats,
  SandboxResult,
  SandboxStats,
} from './types.ts';
