import type { SandboxPool } from '@businessos/connector-runtime';
import type { Db } from '../db/db.ts';
import type { RouteDefinition } from '../http/route.ts';
import type { NpmPublisher } from '../npm/npm-publisher.ts';
import type { TarballLimits } from './tarball.ts';

/** What the publishing routes use. */
export interface PublishingServices {
  db: Db;
  /** The sandbox pool for dry loads (created on first use when the plugin owns it). */
  pool(): SandboxPool;
  /** Largest accepted upload (bytes); larger bodies get 413. */
  maxUploadBytes: number;
  tarballLimits: TarballLimits;
  /** Publishes approved versions to the configured npm registry; undefined when none is configured. */
  npm: NpmPublisher | undefined;
}

/** A route file of the publishing API: a factory of a route definition over the publishing services. */
export type PublishingRouteFactory = (services: PublishingServices) => RouteDefinition;
