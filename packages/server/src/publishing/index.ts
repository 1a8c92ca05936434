import { createSandboxPool, type SandboxPool } from '@businessos/connector-runtime';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/db.ts';
import { createDbImageStore } from '../execution/sandbox-images.ts';
import { mountRoute } from '../http/mount-route.ts';
import { ProblemError } from '../http/problem.ts';
import { createNpmPublisher, type NpmPublishSettings } from '../npm/npm-publisher.ts';
import getNpm from '../routes/marketplace/connectors/_id/versions/_version/npm/get.ts';
import publishNpm from '../routes/marketplace/connectors/_id/versions/_version/npm/post.ts';
import getArtifact from '../routes/marketplace/governance/artifact.ts';
import deprecate from '../routes/marketplace/governance/deprecate.ts';
import yank from '../routes/marketplace/governance/yank.ts';
import approve from '../routes/marketplace/submissions/_id/approve/post.ts';
import getOne from '../routes/marketplace/submissions/_id/get.ts';
import reject from '../routes/marketplace/submissions/_id/reject/post.ts';
import list from '../routes/marketplace/submissions/get.ts';
import submit, { TARBALL_CONTENT_TYPES } from '../routes/marketplace/submissions/post.ts';
import type { PublishingRouteFactory, PublishingServices } from './services.ts';
import { DEFAULT_TARBALL_LIMITS, type TarballLimits } from './tarball.ts';

export { createDbArtifactStore } from './artifact-store.ts';
export { canonicalJson, checkPackage, diffManifests, lintBundle } from './checks.ts';
export type { CheckedPackage, CheckResult, ManifestDiff } from './checks.ts';
export type { PublishingServices } from './services.ts';
export type { SubmissionView, Visibility } from './store.ts';
export { DEFAULT_TARBALL_LIMITS, readConnectorTarball, safeEntryPath } from './tarball.ts';
export type { TarballLimits } from './tarball.ts';

/** What {@link registerPublishingRoutes} needs. */
export interface PublishingDeps {
  db: Db;
  /** Sandbox pool for dry loads; when left out, one small pool is created on first use and closed with the app. */
  sandbox?: SandboxPool;
  /** Largest accepted upload in bytes (default 10 MiB). */
  maxUploadBytes?: number;
  tarballLimits?: Partial<TarballLimits>;
  /** The npm registry approved versions are also published to (`config.npm`); none when left out. */
  npm?: NpmPublishSettings | undefined;
}

/** Default upload cap: 10 MiB. */
export const DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

const REGISTERED = 'bosPublishingRoutes';

const FACTORIES: readonly PublishingRouteFactory[] = [submit, list, getOne, approve, reject, deprecate, yank, getArtifact, getNpm, publishNpm];

/**
 * Registers the publishing API (submit → automated checks → review → publish, deprecation, yanking, artifacts) on
 * `app`, in its own encapsulated context (the tarball content-type parser and 413 mapping stay inside it). Call
 * before `app.ready()`; a second call on the same app does nothing.
 * @example await registerPublishingRoutes(app, { db });
 */
export async function registerPublishingRoutes(app: FastifyInstance, deps: PublishingDeps): Promise<void> {
  // Registering twice (buildApp and a test helper both doing it) is a no-op rather than a duplicate-route crash.
  if (app.hasDecorator(REGISTERED)) return;
  app.decorate(REGISTERED, true);
  let ownPool: SandboxPool | undefined;
  const maxUploadBytes = deps.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const services: PublishingServices = {
    db: deps.db,
    // The dry load's image goes to the store, so the version's first executions anywhere start from it.
    pool: () => deps.sandbox ?? (ownPool ??= createSandboxPool({ workers: 1, images: createDbImageStore(deps.db) })),
    maxUploadBytes,
    tarballLimits: { ...DEFAULT_TARBALL_LIMITS, ...deps.tarballLimits },
    npm: deps.npm ? createNpmPublisher(deps.npm) : undefined,
  };
  app.addHook('onClose', async () => {
    await ownPool?.close();
  });
  await app.register(async (scope) => {
    scope.addContentTypeParser(TARBALL_CONTENT_TYPES, { parseAs: 'buffer', bodyLimit: maxUploadBytes }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((error) => {
      if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        throw new ProblemError('PAYLOAD_TOO_LARGE', `The upload is larger than ${maxUploadBytes} bytes; a packed connector should be far smaller (check the bundle does not inline large assets)`);
      }
      throw error;
    });
    for (const factory of FACTORIES) mountRoute(scope, factory(services), deps.db);
  });
}
