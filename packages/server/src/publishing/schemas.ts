/** JSON Schemas of the publishing API's responses. */
import { npmPublicationSchema } from '../npm/npm-publications.ts';

const stringList = { type: 'array', items: { type: 'string' } } as const;
const addedRemoved = { type: 'object', additionalProperties: false, required: ['added', 'removed'], properties: { added: stringList, removed: stringList } } as const;

/** One automated check. */
export const checkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'title', 'status', 'details'],
  properties: { id: { type: 'string' }, title: { type: 'string' }, status: { type: 'string', enum: ['pass', 'warn', 'fail'] }, details: stringList },
} as const;

/** A submission with its checks, what the reviewer must look at, and the decision. */
export const submissionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'status', 'connector', 'version', 'tenantId', 'artifactSha256', 'checks', 'hosts', 'permissions', 'scopes', 'diff', 'review', 'npm', 'submittedAt', 'decidedAt'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
    connector: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'name', 'visibility'],
      properties: { id: { type: 'string', format: 'uuid' }, name: { type: 'string' }, visibility: { type: 'string', enum: ['public', 'private'] } },
    },
    version: { type: 'string' },
    tenantId: { type: 'string', format: 'uuid' },
    artifactSha256: { type: ['string', 'null'] },
    checks: { type: 'array', items: checkSchema },
    hosts: stringList,
    permissions: stringList,
    scopes: stringList,
    diff: {
      type: 'object',
      additionalProperties: false,
      description: 'Changes since the previous published version; a reviewer looks first at new hosts and scopes.',
      required: ['previousVersion', 'actions', 'triggers', 'hosts', 'scopes', 'permissions', 'authChanged'],
      properties: {
        previousVersion: { type: ['string', 'null'] },
        actions: addedRemoved,
        triggers: addedRemoved,
        hosts: addedRemoved,
        scopes: addedRemoved,
        permissions: addedRemoved,
        authChanged: { type: 'boolean' },
      },
    },
    review: {
      type: ['object', 'null'],
      additionalProperties: false,
      required: ['decision', 'notes', 'reviewer', 'decidedAt'],
      properties: {
        decision: { type: 'string', enum: ['approved', 'rejected'] },
        notes: { type: ['string', 'null'] },
        reviewer: { type: 'string' },
        decidedAt: { type: 'string', format: 'date-time' },
      },
    },
    npm: { anyOf: [npmPublicationSchema, { type: 'null' }], description: 'Publishing the approved version to the npm registry (BOS_NPM_REGISTRY); null when not configured or the listing is private.' },
    submittedAt: { type: 'string', format: 'date-time' },
    decidedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;
