import { defineRoute, principalOf, type RouteDefinition } from '../../../../../../../http/route.ts';
import { ProblemError } from '../../../../../../../http/problem.ts';
import { npmPublicationSchema, queueNpmPublication, runNpmPublication } from '../../../../../../../npm/npm-publications.ts';
import type { PublishingServices } from '../../../../../../../publishing/services.ts';
import { npmTargetVersion, versionParamsSchema } from './shared.ts';

/**
 * `POST /marketplace/connectors/{id}/versions/{version}/npm`: publish an approved version to the npm registry now, or
 * retry a failed publish. 502 with the registry's error when the attempt fails (recorded; retry again later).
 */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string; version: string } }>({
    method: 'POST',
    url: '/marketplace/connectors/:id/versions/:version/npm',
    access: { roles: ['publisher', 'reviewer'] },
    schema: {
      summary: 'Publish an approved version to the npm registry (or retry a failed publish)',
      description: 'The packed bundle goes to BOS_NPM_REGISTRY as the listing\'s npm package at this version, with the bundle\'s sha256 recorded in its package.json. Idempotent: a registry that already holds this exact bundle counts as published.',
      tags: ['publishing'],
      params: versionParamsSchema,
      response: { 200: npmPublicationSchema },
    },
    async handler(request) {
      const npm = services.npm;
      if (!npm) throw new ProblemError('NOT_IMPLEMENTED', 'This service publishes to no npm registry; set BOS_NPM_REGISTRY and BOS_NPM_TOKEN and restart it', { type: 'npm-not-configured' });
      const principal = principalOf(request);
      const { id, version } = request.params;
      const target = await services.db.transaction(async (tx) => {
        const found = await npmTargetVersion(tx, principal, id, version);
        await queueNpmPublication(tx, npm, found.versionId);
        return found;
      });
      const { view, attempted } = await runNpmPublication(services.db, npm, target.versionId, principal);
      const label = `${view.package}@${view.version}`;
      if (!attempted && view.status === 'published') throw new ProblemError('CONFLICT', `${label} is already published to ${view.registry} (integrity ${view.integrity}); npm versions are immutable`, { type: 'npm-already-published' });
      if (!attempted) throw new ProblemError('CONFLICT', `${label} is being published to ${view.registry} right now; check again with GET on this URL`, { type: 'npm-publish-running' });
      if (view.status === 'failed') throw new ProblemError('UPSTREAM_ERROR', `${target.name}@${version} is still approved, but publishing it to npm failed: ${view.error}`, { type: 'npm-publish-failed' });
      return view;
    },
  }) as unknown as RouteDefinition;
