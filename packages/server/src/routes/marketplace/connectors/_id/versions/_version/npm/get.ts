import { defineRoute, principalOf, type RouteDefinition } from '../../../../../../../http/route.ts';
import { ProblemError } from '../../../../../../../http/problem.ts';
import { getNpmPublication, npmPublicationSchema } from '../../../../../../../npm/npm-publications.ts';
import type { PublishingServices } from '../../../../../../../publishing/services.ts';
import { npmTargetVersion, versionParamsSchema } from './shared.ts';

/** `GET /marketplace/connectors/{id}/versions/{version}/npm`: where publishing this version to npm stands. */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string; version: string } }>({
    method: 'GET',
    url: '/marketplace/connectors/:id/versions/:version/npm',
    access: { roles: ['publisher', 'reviewer'] },
    schema: {
      summary: "A version's npm publication: queued, publishing, published (with the registry's integrity) or failed (with the error)",
      tags: ['publishing'],
      params: versionParamsSchema,
      response: { 200: npmPublicationSchema },
    },
    async handler(request) {
      const npm = services.npm;
      const { id, version } = request.params;
      return services.db.transaction(async (tx) => {
        const target = await npmTargetVersion(tx, principalOf(request), id, version);
        const view = npm ? await getNpmPublication(tx, target.versionId, npm.registry) : undefined;
        if (!view) throw new ProblemError('NOT_FOUND', `${target.name}@${version} was never published to ${npm ? npm.registry : 'an npm registry (none is configured)'}; publish it with POST /marketplace/connectors/${id}/versions/${version}/npm`);
        return view;
      });
    },
  }) as unknown as RouteDefinition;
