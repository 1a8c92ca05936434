import { InvalidInputError } from '@businessos/connector-sdk';
import { MAX_READ_LIMIT, type ReadAfterQuery } from './types.ts';

/**
 * Checks a {@link ReadAfterQuery} the same way for every outbox implementation; returns `after` as a bigint
 * (-1 when absent). Throws INVALID_INPUT with the offending field's path.
 */
export function checkReadAfterQuery(query: ReadAfterQuery): bigint {
  if (!query.tenantId) throw new InvalidInputError('readAfter needs a tenantId', '/tenantId');
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_READ_LIMIT) {
    throw new InvalidInputError(`limit must be an integer from 1 to ${MAX_READ_LIMIT} (got ${String(query.limit)})`, '/limit');
  }
  if (query.after === undefined || query.after === '') return -1n;
  if (!/^\d{1,19}$/.test(query.after)) throw new InvalidInputError(`after must be a position returned by a previous read (a decimal integer), got "${query.after}"`, '/after');
  return BigInt(query.after);
}
