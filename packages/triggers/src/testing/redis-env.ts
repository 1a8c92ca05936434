import { describe, expect, it } from 'vitest';

/**
 * REDIS_URL for integration suites. When it is unset the suites skip, except with BOS_REQUIRE_SERVICES=1 (CI),
 * where this registers a failing test instead.
 */
export function redisUrlForTests(suite: string): string | undefined {
  const url = process.env.REDIS_URL;
  if (!url && process.env.BOS_REQUIRE_SERVICES === '1') {
    describe(suite, () => {
      it('needs REDIS_URL (BOS_REQUIRE_SERVICES=1 is set)', () => {
        expect.fail('REDIS_URL is not set but BOS_REQUIRE_SERVICES=1 requires the real Redis; set REDIS_URL=redis://127.0.0.1:6379');
      });
    });
  }
  return url;
}
