// The quarantine's rule with a fake clock: a tenant's violations quarantine a connector version for that tenant
// alone; only violations from several tenants within the window quarantine it for everyone.
import type { ErrorData } from '@businessos/connector-sdk';
import { describe, expect, it } from 'vitest';
import { createQuarantine, type QuarantineOptions } from './quarantine.ts';

const KEY = 'slow@1.0.0';
const deadline: ErrorData = { code: 'SANDBOX_DEADLINE', message: 'ran past its deadline' };

function setup(options: QuarantineOptions = {}) {
  const clock = { t: 1_000_000 };
  const q = createQuarantine({ threshold: 3, windowMs: 60_000, coolOffMs: 120_000, ...options }, () => clock.t);
  const hit = (tenant: string, times = 1) => {
    for (let i = 0; i < times; i += 1) q.record(KEY, tenant, deadline);
  };
  return { clock, q, hit };
}

describe('quarantine of one tenant', () => {
  it("quarantines a version only for the tenant whose executions keep hitting limits; other tenants keep running", () => {
    const { q, hit } = setup();
    hit('acme', 2);
    expect(q.check(KEY, 'acme')).toBeUndefined();
    hit('acme');
    const refused = q.check(KEY, 'acme');
    expect(refused).toMatchObject({ code: 'QUARANTINED', retryAfter: 120, details: { scope: 'tenant' } });
    expect(refused?.message).toMatch(/for tenant acme only/);
    expect(refused?.message).toMatch(/other tenants are not affected/);
    expect(refused?.message).toMatch(/120 s/);
    // However many violations one tenant adds, nobody else is refused.
    for (let i = 0; i < 50; i += 1) hit('acme');
    expect(q.check(KEY, 'globex')).toBeUndefined();
    expect(q.list()).toEqual([expect.objectContaining({ bundleKey: KEY, scope: 'tenant', tenant: 'acme', violations: 3, lastError: deadline })]);
  });

  it('counts only violations within the window, and lifts after the cool-off', () => {
    const { clock, q, hit } = setup();
    hit('acme', 2);
    clock.t += 61_000;
    hit('acme', 2);
    expect(q.check(KEY, 'acme')).toBeUndefined();
    hit('acme');
    expect(q.check(KEY, 'acme')?.code).toBe('QUARANTINED');
    expect(q.check(KEY, 'globex')).toBeUndefined();
    clock.t += 119_000;
    expect(q.check(KEY, 'acme')).toMatchObject({ retryAfter: 1 });
    clock.t += 1_000;
    expect(q.check(KEY, 'acme')).toBeUndefined();
    expect(q.list()).toEqual([]);
  });

  it('keeps tenant ids apart whatever characters they hold', () => {
    const { q } = setup({ threshold: 1 });
    q.record('k\u0000x@1', 'a', deadline);
    expect(q.check('k', 'x@1\u0000a')).toBeUndefined();
    expect(q.check('k\u0000x@1', 'a')?.code).toBe('QUARANTINED');
    expect(q.check('k\u0000x@1', 'b')).toBeUndefined();
  });
});

describe('quarantine for every tenant', () => {
  it('quarantines a version for everyone once violations come from enough distinct tenants within the window', () => {
    const { q, hit } = setup({ threshold: 3 });
    hit('t-alpha');
    hit('t-beta');
    expect(q.check(KEY, 'nobody-yet')).toBeUndefined();
    hit('t-gamma');
    const refused = q.check(KEY, 'bystander');
    expect(refused).toMatchObject({ code: 'QUARANTINED', retryAfter: 120, details: { scope: 'everyone' } });
    expect(refused?.message).toMatch(/for every tenant/);
    expect(refused?.message).toMatch(/3 different tenants/);
    // Operators see which tenants; the error every tenant gets names none of them.
    expect(refused?.message).not.toMatch(/t-alpha|t-beta|t-gamma/);
    expect(q.list()).toEqual([expect.objectContaining({ bundleKey: KEY, scope: 'everyone', violations: 3, tenants: ['t-alpha', 't-beta', 't-gamma'] })]);
  });

  it('needs the violations of several tenants within one window, and threshold violations in all', () => {
    const { clock, q, hit } = setup({ threshold: 5, globalTenants: 3 });
    hit('a', 3);
    hit('b');
    clock.t += 61_000;
    // a's and b's violations have left the window.
    hit('c');
    hit('d');
    expect(q.check(KEY, 'bystander')).toBeUndefined();
    hit('e');
    // Three tenants, but three violations in all: under the threshold of 5.
    expect(q.check(KEY, 'bystander')).toBeUndefined();
    hit('e', 2);
    expect(q.check(KEY, 'bystander')).toMatchObject({ details: { scope: 'everyone' } });
  });

  it('takes the number of tenants from the options, and never lets one tenant alone quarantine for everyone', () => {
    const two = setup({ globalTenants: 2, threshold: 2 });
    two.hit('a');
    two.hit('b');
    expect(two.q.check(KEY, 'c')).toMatchObject({ details: { scope: 'everyone' } });
    expect(() => createQuarantine({ globalTenants: 1 })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
    const never = setup({ globalTenants: Number.POSITIVE_INFINITY });
    for (const tenant of ['a', 'b', 'c', 'd', 'e', 'f']) never.hit(tenant);
    expect(never.q.check(KEY, 'g')).toBeUndefined();
    const off = setup({ enabled: false });
    for (const tenant of ['a', 'b', 'c']) off.hit(tenant, 5);
    expect(off.q.check(KEY, 'a')).toBeUndefined();
    expect(off.q.list()).toEqual([]);
  });

  it('lifts after the cool-off, and an operator can clear one tenant, one version or everything', () => {
    const { clock, q, hit } = setup();
    hit('a', 3);
    hit('b');
    hit('c');
    expect(q.check(KEY, 'z')?.details).toMatchObject({ scope: 'everyone' });
    clock.t += 120_000;
    expect(q.check(KEY, 'z')).toBeUndefined();
    // a's own quarantine began at the same time and has ended too; counting starts afresh for everyone.
    expect(q.check(KEY, 'a')).toBeUndefined();
    hit('b');
    hit('c');
    expect(q.check(KEY, 'z')).toBeUndefined();

    clock.t += 61_000;
    hit('a', 3);
    expect(q.check(KEY, 'a')?.code).toBe('QUARANTINED');
    q.clear(KEY, 'a');
    expect(q.check(KEY, 'a')).toBeUndefined();
    // A cleared tenant's violations no longer count towards the quarantine for everyone either.
    hit('d');
    hit('e');
    expect(q.check(KEY, 'z')).toBeUndefined();
    hit('f');
    expect(q.check(KEY, 'z')?.code).toBe('QUARANTINED');
    q.clear(KEY);
    expect(q.list()).toEqual([]);
    expect(q.check(KEY, 'z')).toBeUndefined();
    hit('x', 3);
    q.clear();
    expect(q.check(KEY, 'x')).toBeUndefined();
    expect(q.list()).toEqual([]);
  });
});
