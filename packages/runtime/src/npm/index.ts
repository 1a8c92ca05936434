// `@businessos/connector-runtime/npm`: installing connectors from an npm registry. A separate entry point so the
// runtime's main surface does not load the npm client for users who never touch a registry.
export { createFileBundleCache } from './bundle-cache.ts';
export type { BundleCache, NpmInstallRecord } from './bundle-cache.ts';
export { DEFAULT_PACKAGE_LIMITS, readConnectorPackage } from './connector-package.ts';
export type { ConnectorPackage, ConnectorPackageLimits } from './connector-package.ts';
export { createNpmArtifactStore } from './npm-artifact-store.ts';
export type { NpmArtifact, NpmArtifactStore, NpmArtifactStoreOptions } from './npm-artifact-store.ts';
export { escapePackageName, isValidPackageName, normaliseRegistry, npmRegistryOptions, parsePackageSpec } from './registry-options.ts';
export type { NpmRegistrySettings } from './registry-options.ts';
