import type { Queryable } from '../../../../../db/db.ts';
import { defineRoute, principalOf, type RouteDefinition } from '../../../../../http/route.ts';
import { idParamsSchema } from '../../../../../http/schemas.ts';
import { submissionSchema } from '../../../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../../../publishing/services.ts';
import { queueNpmPublication, runNpmPublication } from '../../../../../npm/npm-publications.ts';
import { decideSubmission, getSubmission } from '../../../../../publishing/store.ts';

/** `POST /marketplace/submissions/{id}/approve` (reviewers). */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Params: { id: string }; Body: { notes?: string } | undefined }>({
    method: 'POST',
    url: '/marketplace/submissions/:id/approve',
    access: { roles: ['reviewer'] },
    schema: {
      summary: 'Approve a submission: the version is published (immutable) and listed',
      description:
        'With an npm registry configured (BOS_NPM_REGISTRY), an approved version of a public connector is then published there as its npm package; `npm` in the answer says how that went. A failed npm publish leaves the version approved and can be retried with POST /marketplace/connectors/{id}/versions/{version}/npm.',
      tags: ['publishing'],
      params: idParamsSchema,
      body: { type: 'object', additionalProperties: false, required: [], properties: { notes: { type: 'string', minLength: 0, maxLength: 10000 } } },
      response: { 200: submissionSchema },
    },
    async handler(request) {
      const notes = request.body?.notes?.trim();
      const principal = principalOf(request);
      const npm = services.npm;
      let queued: string | undefined;
      const afterApprove = npm ? async (tx: Queryable, versionId: string) => void ((await queueNpmPublication(tx, npm, versionId)) && (queued = versionId)) : undefined;
      const view = await decideSubmission(services.db, principal, request.params.id, 'approved', notes || undefined, { afterApprove });
      if (!npm || !queued) return view;
      // The approval is committed; the npm publish runs after it and records its own outcome. Should recording
      // itself fail, the approval still stands: the row stays "publishing" and a retry takes it over later.
      try {
        await runNpmPublication(services.db, npm, queued, principal);
      } catch (error) {
        request.log.error({ err: error, versionId: queued }, 'npm publish of an approved version could not be recorded');
      }
      return getSubmission(services.db, principal, request.params.id);
    },
  }) as unknown as RouteDefinition;
