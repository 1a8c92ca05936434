// Public surface of @businessos/n8n-bridge: export connectors as n8n community-node packages, import n8n
// declarative nodes as connectors.
export { exportN8nPackage, iconSvg, ESLINT_CONFIG, N8N_NODE_CLI_VERSION } from './export/export-package.ts';
export type { ExportN8nOptions, ExportN8nResult } from './export/export-package.ts';
export { buildN8nPackage } from './export/build.ts';
export { actionNodeProperties, toProperty } from './export/properties.ts';
export type { N8nProperty } from './export/properties.ts';
export { exportNames } from './export/naming.ts';
export type { ExportNames } from './export/naming.ts';
export { importN8nNode } from './import/import-node.ts';
export type { ImportN8nOptions, ImportN8nResult, ImportReport, UnsupportedFeature } from './import/import-node.ts';
export { ensureNodeCli, NODE_CLI_CACHE } from './export/node-cli.ts';
export type { NodeCli } from './export/node-cli.ts';
export { loadN8nSource } from './import/load-source.ts';
export type { N8nSource } from './import/load-source.ts';
