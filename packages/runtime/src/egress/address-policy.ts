import ipaddr from 'ipaddr.js';

/** Addresses that are public unicast by range but still must not be reached (cloud control planes). */
const DENIED_EXACT = new Set([
  '168.63.129.16', // Azure WireServer
  '169.254.169.254', // AWS/GCP/Azure/OCI metadata (also link-local)
  '100.100.100.200', // Alibaba metadata (also CGNAT)
  'fd00:ec2::254', // AWS metadata over IPv6 (also unique-local)
]);

// Only global unicast IPv6 is routable on the public internet; everything outside it (IPv4-compatible ::a.b.c.d,
// NAT64, discard, unique-local, link-local, multicast, unassigned) can lead to an internal host.
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

export interface AddressPolicyOptions {
  /** Allow 127.0.0.0/8 and ::1 (tests against loopback mock servers). Default false. */
  allowLoopback?: boolean;
}

/**
 * Says why an IP address must not be connected to, or undefined when it is a public unicast address.
 * Denied: private, loopback (unless allowed), link-local, CGNAT, multicast, broadcast, reserved and
 * documentation ranges, unique-local IPv6, IPv4-mapped/translated IPv6 forms, any IPv6 address outside global
 * unicast 2000::/3, and cloud metadata addresses.
 */
export function addressDenial(address: string, options: AddressPolicyOptions = {}): string | undefined {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (!ipaddr.isValid(text)) return `"${address}" is not an IP address`;
  const ip = ipaddr.parse(text);
  const normal = ip.toNormalizedString();
  if (DENIED_EXACT.has(text.toLowerCase()) || DENIED_EXACT.has(normal) || DENIED_EXACT.has(ip.toString())) {
    return `${address} is a cloud metadata address`;
  }
  const range = ip.range();
  if (ip.kind() === 'ipv6') {
    const v6 = ip as ipaddr.IPv6;
    // ::ffff:a.b.c.d and friends reach IPv4 hosts behind the IPv6 check; refuse them outright.
    if (v6.isIPv4MappedAddress()) return `${address} is an IPv4-mapped IPv6 address`;
    if (range === 'loopback' && options.allowLoopback) return undefined;
    if (range !== 'unicast') return `${address} is in the IPv6 ${range} range`;
    // ipaddr.js calls unassigned space such as ::7f00:1 (IPv4-compatible 127.0.0.1) "unicast".
    if (!v6.match(GLOBAL_UNICAST_V6)) return `${address} is not a global unicast IPv6 address (outside 2000::/3)`;
    return undefined;
  }
  if (range === 'loopback' && options.allowLoopback) return undefined;
  if (range !== 'unicast') return `${address} is in the IPv4 ${range} range`;
  return undefined;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopbackAddress(address: string): boolean {
  const text = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  return ipaddr.isValid(text) && ipaddr.parse(text).range() === 'loopback';
}
