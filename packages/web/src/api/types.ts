// Wire shapes of the connectors service, as its OpenAPI document describes them (GET /openapi.json).
// Shapes marked "assumed" belong to routes that were not served yet when this page was written.

/** JSON Schema as far as the page reads it. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
}

/** The one error envelope of the service (`application/problem+json`). */
export interface Problem {
  type?: string;
  title?: string;
  status: number;
  code: string;
  detail: string;
  requestId?: string;
  errors?: { path: string; in?: string; message: string }[];
}

export interface Rating {
  average: number | null;
  count: number;
}

export interface Deprecation {
  message: string;
  replacement: string | null;
}

/** One card of the catalogue. */
export interface SearchResult {
  id: string;
  name: string;
  displayName: string;
  description: string;
  category: string;
  icon: string | null;
  installs: number;
  rating: Rating;
  latestVersion: string;
  deprecation: Deprecation | null;
  verified: boolean;
  private: boolean;
}

export interface SearchResponse {
  results: SearchResult[];
  total: number;
  /** True when more matched than the service counts (10,000): `total` and the facet counts are "at least". */
  totalIsLowerBound: boolean;
  page: number;
  pageSize: number;
  facets: { categories: { category: string; count: number }[] };
}

export interface AuthFieldSpec {
  type?: string;
  label?: string;
  description?: string;
  required?: boolean;
  secret?: boolean;
  pattern?: string;
  placeholder?: string;
}

export interface AuthInfo {
  type: string;
  label?: string;
  grant?: string;
  scopes?: string[];
  fields?: Record<string, AuthFieldSpec>;
  authorizationUrl?: string;
  [key: string]: unknown;
}

export interface ActionInfo {
  name: string;
  displayName?: string;
  description?: string;
  group?: string;
  params?: JsonSchema;
  output?: JsonSchema;
  idempotent?: boolean;
}

export interface TriggerInfo {
  name: string;
  displayName?: string;
  description?: string;
  type?: string;
  params?: JsonSchema;
  output?: JsonSchema;
}

export interface ConnectorDetail extends SearchResult {
  author: string | null;
  homepage: string | null;
  npmPackage: string | null;
  createdAt: string;
  auth: AuthInfo;
  hosts: string[];
  permissions: string[];
  runtime: string;
  baseUrl: string | null;
  actions: ActionInfo[];
  triggers: TriggerInfo[];
}

export interface VersionInfo {
  version: string;
  status: 'published' | 'yanked';
  artifactSha256: string | null;
  deprecation: Deprecation | null;
  publishedAt: string | null;
  changelog?: string | null;
}

export interface VersionsResponse {
  connectorId: string;
  latestVersion: string;
  items: VersionInfo[];
}

export interface Review {
  stars: number;
  title: string | null;
  body: string | null;
  mine: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface ReviewsResponse {
  rating: Rating;
  items: Review[];
  page: number;
  pageSize: number;
}

export interface SetupField {
  name: string;
  label: string;
  secret: boolean;
  required: boolean;
  in: 'credentials' | 'fields';
  description?: string;
  pattern?: string;
  placeholder?: string;
  default?: string;
}

export interface Setup {
  type: 'none' | 'form' | 'oauth2';
  authType: string;
  fields: SetupField[];
  authorizeUrl?: string | null;
  state?: string;
  expiresAt?: string;
  detail?: string;
}

export interface InstallResponse {
  installation: { id: string; connectorId: string; connector: string; version: string; createdAt: string };
  setup: Setup;
}

export interface Installation {
  id: string;
  connectorId: string;
  connector: string;
  displayName: string;
  version: string;
  latestVersion: string;
  updateAvailable: boolean;
  deprecation: Deprecation | null;
  createdAt: string;
}

export interface Connection {
  id: string;
  installationId: string;
  connector: string;
  name: string;
  fields: Record<string, string>;
  status: 'ok' | 'needs_reauth' | 'error';
  statusDetail: string | null;
  hasCredentials: boolean;
  createdAt: string;
}

/** Assumed: answer of `POST /connections/{id}/test`. */
/** Answer of `POST /connections/{id}/test`; the service also stores `status` (and the error message) on the connection. */
export interface ConnectionTest {
  ok: boolean;
  status: Connection['status'];
  /** false when the connector declares no test request, so the credentials were stored but not checked. */
  checked?: boolean;
  error?: { code: string; message: string };
}

/** Assumed: answer of `POST /connectors/{name}/execute`. */
export interface ExecuteResponse {
  data: unknown;
  meta?: { durationMs?: number; attempts?: number; [key: string]: unknown };
}

export interface UsageItem {
  key: string;
  executions: number;
  errors: number;
  totalDurationMs: number;
  avgDurationMs: number;
}

export interface UsageResponse {
  from: string;
  to: string;
  groupBy: string;
  items: UsageItem[];
}

export interface CheckResult {
  id: string;
  title: string;
  status: 'pass' | 'warn' | 'fail';
  details: string[];
}

/** Assumed: a submission as `GET /marketplace/submissions` lists it. */
export interface Submission {
  id: string;
  status: 'pending' | 'approved' | 'rejected';
  connector: { id: string; name: string; visibility?: string };
  version: string;
  tenantId?: string;
  checks: CheckResult[];
  hosts: string[];
  permissions: string[];
  scopes?: string[];
  review: { decision: 'approved' | 'rejected'; notes: string | null; reviewer: string; decidedAt: string } | null;
  submittedAt: string;
  decidedAt: string | null;
}
