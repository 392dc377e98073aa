import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { TrustProxy } from '../config';

export type AddressOf = (req: IncomingMessage) => string;

/**
 * The client address of a request, honouring TRUST_PROXY the way Express does (proxy-addr):
 * without trust, the peer address; with it, the right-most X-Forwarded-For address not trusted.
 */
export function clientAddressResolver(trust: TrustProxy): AddressOf {
  if (trust === false) return (req) => req.socket?.remoteAddress ?? 'unknown';
  const fn: (addr: string, i: number) => boolean =
    trust === true ? () => true : typeof trust === 'number' ? (_addr, i) => i < trust : proxyaddr.compile([...trust]);
  return (req) => {
    try {
      return proxyaddr(req, fn);
    } catch {
      return req.socket?.remoteAddress ?? 'unknown';
    }
  };
}

/** The same setting as Express's `trust proxy`, so HTTP routes see the same client address. */
export function expressTrustProxy(trust: TrustProxy): boolean | number | string[] {
  return typeof trust === 'boolean' || typeof trust === 'number' ? trust : [...trust];
}
