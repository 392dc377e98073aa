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
  const fn = trustFunction(trust);
  return (req) => {
    try {
      return proxyaddr(req, fn);
    } catch {
      return req.socket?.remoteAddress ?? 'unknown';
    }
  };
}

/** TRUST_PROXY as proxy-addr's trust function: whether the address `i` hops from the gateway is a trusted proxy. */
function trustFunction(trust: Exclude<TrustProxy, false>): (addr: string, i: number) => boolean {
  return trust === true ? () => true : typeof trust === 'number' ? (_addr, i) => i < trust : proxyaddr.compile([...trust]);
}

/**
 * Whether a request's TCP peer is a trusted proxy, so that its X-Forwarded-Proto and
 * X-Forwarded-Host may be believed (as Express's `req.protocol` and `req.hostname` decide it).
 */
export function peerIsTrustedProxy(trust: TrustProxy): (peer: string | undefined) => boolean {
  if (trust === false) return () => false;
  const fn = trustFunction(trust);
  return (peer) => peer !== undefined && fn(peer, 0);
}

/** The same setting as Express's `trust proxy`, so HTTP routes see the same client address. */
export function expressTrustProxy(trust: TrustProxy): boolean | number | string[] {
  return typeof trust === 'boolean' || typeof trust === 'number' ? trust : [...trust];
}
