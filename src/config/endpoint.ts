import { isIPv6 } from "node:net";

/** A host name or IPv4 address: labels of letters, digits, '-' and '_', separated by dots. */
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;

/**
 * Checks a `host:port` endpoint as Fabric uses them (`net.SplitHostPort` followed by a numeric port):
 * a non-empty host name, IPv4 address or bracketed IPv6 address, and a decimal port 1-65535.
 * @returns undefined if valid, otherwise what is wrong (a sentence fragment).
 */
export function checkHostPort(endpoint: string): string | undefined {
  if (endpoint.trim() !== endpoint) return "has leading or trailing whitespace";
  let host: string;
  let port: string;
  if (endpoint.startsWith("[")) {
    const close = endpoint.indexOf("]");
    if (close < 0) return "has '[' without a matching ']'";
    if (endpoint[close + 1] !== ":") return "has no ':port' after the bracketed IPv6 address";
    host = endpoint.slice(1, close);
    port = endpoint.slice(close + 2);
    if (!isIPv6(host)) return `has ${JSON.stringify(host)} in brackets, which is not an IPv6 address`;
  } else {
    const colon = endpoint.lastIndexOf(":");
    if (colon < 0) return "has no port";
    host = endpoint.slice(0, colon);
    port = endpoint.slice(colon + 1);
    if (host.includes(":")) return "has too many colons (write an IPv6 address in brackets: [::1]:7051)";
    if (host === "") return "has no host";
    if (!HOST_NAME.test(host)) return `has ${JSON.stringify(host)} as host, which is not a host name or IP address`;
  }
  if (!/^[0-9]+$/.test(port)) return port === "" ? "has no port" : `has ${JSON.stringify(port)} as port, which is not a number`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `has port ${port}, outside 1-65535`;
  return undefined;
}

/** True if `endpoint` is a valid `host:port`; see {@link checkHostPort}. */
export function isHostPort(endpoint: string): boolean {
  return checkHostPort(endpoint) === undefined;
}
