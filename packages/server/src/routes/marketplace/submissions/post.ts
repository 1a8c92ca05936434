import { defineRoute, principalOf, type RouteDefinition } from '../../../http/route.ts';
import { ProblemError } from '../../../http/problem.ts';
import { checkPackage } from '../../../publishing/checks.ts';
import { submissionSchema } from '../../../publishing/schemas.ts';
import type { PublishingServices } from '../../../publishing/services.ts';
import { createSubmission, getSubmission, preflightSubmission, type Visibility } from '../../../publishing/store.ts';
import { readConnectorTarball } from '../../../publishing/tarball.ts';

/** Content types a packed connector is accepted as. */
export const TARBALL_CONTENT_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

/** `POST /marketplace/submissions`: upload a packed connector; checks run, then it waits for review. */
export default (services: PublishingServices): RouteDefinition =>
  defineRoute<{ Querystring: { visibility?: Visibility }; Body: unknown }>({
    method: 'POST',
    url: '/marketplace/submissions',
    access: { roles: ['publisher'] },
    schema: {
      summary: 'Submit a packed connector (.tgz from `bos-connector pack`) for review',
      description: `Body: the tarball as application/gzip or application/octet-stream (at most ${services.maxUploadBytes} bytes). Automated checks run first; a failing check refuses the upload with 422 and nothing is stored.`,
      tags: ['publishing'],
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { visibility: { type: 'string', enum: ['public', 'private'], default: 'public', description: '`private`: visible only to your tenant' } },
      },
      response: { 201: submissionSchema },
    },
    async handler(request, reply) {
      const principal = principalOf(request);
      if (!Buffer.isBuffer(request.body)) {
        throw new ProblemError('INVALID_INPUT', `Send the packed connector as the raw body with Content-Type ${TARBALL_CONTENT_TYPES.slice(0, 2).join(' or ')}`, { status: 415, type: 'unsupported-media-type' });
      }
      const files = await readConnectorTarball(request.body, services.tarballLimits);
      let npmName: string | undefined;
      try {
        const name = (JSON.parse(files.get('package.json')?.toString('utf8') ?? '{}') as { name?: unknown } | null)?.name;
        if (typeof name === 'string' && name.length > 0 && name.length <= 255) npmName = name;
      } catch {
        // The package check reports an unreadable package.json; the manifest name stands in meanwhile.
      }
      const visibility = request.query.visibility ?? 'public';
      const checked = await checkPackage(files, {
        pool: services.pool(),
        // A name or version that would be refused is refused before the dry load leaves the bundle's image behind.
        beforeDryLoad: (manifest) => preflightSubmission(services.db, principal, manifest, { visibility, npmPackage: npmName ?? manifest.name }),
      });
      if (!checked.ok || !checked.manifest || !checked.bundle || !checked.bundleSha256) {
        const failed = checked.checks.filter((c) => c.status === 'fail');
        throw new ProblemError('INVALID_INPUT', `The package failed ${failed.length} automated check(s): ${failed.map((c) => `${c.id}: ${c.details[0] ?? c.title}`).join('; ')}. Fix them, pack again and resubmit`, {
          status: 422,
          type: 'submission-checks-failed',
          errors: failed.flatMap((c) => c.details.map((d) => ({ path: `/checks/${c.id}`, in: 'body', message: d }))),
        });
      }
      const id = await createSubmission(services.db, principal, { ...checked, manifest: checked.manifest, bundle: checked.bundle, bundleSha256: checked.bundleSha256 }, { visibility, npmPackage: npmName ?? checked.manifest.name });
      const view = await getSubmission(services.db, principal, id);
      return reply.status(201).header('location', `/marketplace/submissions/${id}`).send(view);
    },
  }) as unknown as RouteDefinition;
