import { describe, expect, it } from 'vitest';
import { renewAtFor } from './subscriptions.ts';

describe('renewAtFor', () => {
  const now = Date.UTC(2026, 0, 1);
  const hour = 3600_000;

  it('renews a fifth of the remaining life early, between one minute and one day', () => {
    expect(renewAtFor(now + 10 * hour, now)).toBe(now + 8 * hour);
    expect(renewAtFor(now + 30 * 24 * hour, now)).toBe(now + 29 * 24 * hour);
    expect(renewAtFor(now + 2 * 60_000, now)).toBe(now + 60_000);
  });

  it('renews at once a hook that lapses within a minute or already lapsed', () => {
    expect(renewAtFor(now + 30_000, now)).toBe(now);
    expect(renewAtFor(now - hour, now)).toBe(now);
  });
});
