import { describe, expect, it } from 'vitest';
import { addressDenial } from './address-policy.ts';

describe('addressDenial', () => {
  it.each([
    '10.0.0.1', '172.16.5.4', '192.168.1.1', '127.0.0.1', '127.8.9.10', '0.0.0.0', '169.254.169.254', '169.254.1.1',
    '100.64.0.1', '100.100.100.200', '224.0.0.1', '255.255.255.255', '192.0.2.1', '198.18.0.1', '240.0.0.1', '168.63.129.16',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '::ffff:127.0.0.1', '::ffff:8.8.8.8', '[::1]', '64:ff9b::a00:1',
    '2002:a00:1::', '2001:db8::1',
  ])('refuses %s', (ip) => {
    expect(addressDenial(ip)).toEqual(expect.any(String));
  });

  it.each(['8.8.8.8', '1.1.1.1', '151.101.1.69', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])('accepts public %s', (ip) => {
    expect(addressDenial(ip)).toBeUndefined();
  });

  it('allows loopback only when asked, and never other private ranges', () => {
    expect(addressDenial('127.0.0.1', { allowLoopback: true })).toBeUndefined();
    expect(addressDenial('::1', { allowLoopback: true })).toBeUndefined();
    expect(addressDenial('10.0.0.1', { allowLoopback: true })).toEqual(expect.any(String));
    expect(addressDenial('::ffff:127.0.0.1', { allowLoopback: true })).toEqual(expect.any(String));
  });

  it('refuses things that are not addresses', () => {
    expect(addressDenial('example.com')).toMatch(/not an IP/);
  });
});

describe('addressDenial on IPv6 spellings of internal addresses', () => {
  // WHATWG URL and the kernel write ::127.0.0.1 as ::7f00:1; ipaddr.js calls that range "unicast".
  it.each(['::7f00:1', '::a00:1', '::a9fe:a9fe', '::808:808', '400::1', '64:ff9b:1::a00:1', 'fe80::1%eth0', 'fec0::1', '5f00::1', '2001::1', '2002:a9fe:a9fe::1'])(
    'refuses %s',
    (ip) => {
      expect(addressDenial(ip)).toEqual(expect.any(String));
      expect(addressDenial(ip, { allowLoopback: true })).toEqual(expect.any(String));
    },
  );

  it('says why an IPv4-compatible address is refused', () => {
    expect(addressDenial('::7f00:1')).toMatch(/::7f00:1 is not a global unicast IPv6 address/);
  });
});
