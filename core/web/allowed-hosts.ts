import { isIP } from 'node:net';

/**
 * The Host header allow-list that defeats DNS rebinding: a web page on evil.example whose name
 * is re-pointed at 127.0.0.1 can make a visitor's browser fetch our loopback port, but the
 * browser still sends `Host: evil.example`, and that is refused here. A bare IP address is
 * always accepted: rebinding needs a name, and scrapers that find targets by address
 * (Prometheus' Kubernetes and Docker discovery) send the address.
 */

interface HostPattern {
  /** Lower-case host name, IPv4 address, or bracketed IPv6 address (`[::1]`). */
  name: string;
  /** Absent: any port. */
  port?: number;
}

const LOOPBACK: readonly HostPattern[] = [{ name: 'localhost' }, { name: '127.0.0.1' }, { name: '[::1]' }];

const HOST_NAME = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$/;
const PORT = /^\d{1,5}$/;

/** `name`, `name:port`, `[v6]` or `[v6]:port`, lower-cased; undefined for anything else. */
function parseHost(text: string): HostPattern | undefined {
  const host = text.trim().toLowerCase();
  const bracket = host.startsWith('[') ? host.indexOf(']') + 1 : 0;
  const colon = host.indexOf(':', bracket);
  const name = colon === -1 ? host : host.slice(0, colon);
  const port = colon === -1 ? undefined : host.slice(colon + 1);
  if (!HOST_NAME.test(name)) return undefined;
  if (port === undefined) return { name };
  return PORT.test(port) ? { name, port: Number(port) } : undefined;
}

/**
 * A predicate over Host header values: loopback names on any port, plus `allowedHosts` entries
 * (an entry without a port matches every port). Throws on an entry that is not a host name, so
 * a typo in settings shows at start rather than as every scrape refused.
 */
export function hostAllowList(allowedHosts: readonly string[]): (hostHeader: string | undefined) => boolean {
  const patterns = [...LOOPBACK];
  for (const entry of allowedHosts) {
    const pattern = parseHost(entry);
    if (!pattern) throw new Error(`allowed host ${JSON.stringify(entry)} is not a host name or host:port`);
    patterns.push(pattern);
  }
  return (hostHeader) => {
    const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
    if (!host) return false;
    if (isIP(host.name.replace(/^\[|\]$/g, '')) !== 0) return true;
    return patterns.some((pattern) => pattern.name === host.name && (pattern.port === undefined || pattern.port === host.port));
  };
}
