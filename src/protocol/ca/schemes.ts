/**
 * The schemes the CA service runs, by name: one holder per server and scheme (schemes keep per-session
 * state), and the client's coordinators.
 */
import type { Random } from '../../env/random.js';
import { SchemeError, type CaScheme, type SchemeCoordinator, type SchemeHolder } from './scheme.js';
import { dlCoordinator, dlHolder } from './scheme-dl.js';
import { frostCoordinator, frostHolder } from './scheme-frost.js';
import {
  rsaAdditiveCoordinator,
  rsaAdditiveHolder,
  rsaShoupCoordinator,
  rsaShoupHolder,
  type RsaCoordinatorOptions,
  type RsaKeySource,
} from './scheme-rsa.js';

type HolderFactory = (random: Random) => SchemeHolder;
type CoordinatorFactory = (options: CoordinatorOptions) => SchemeCoordinator;

/** Options a client passes to a coordinator. */
export interface CoordinatorOptions {
  /** RSA modulus size for new keys (default 2048). */
  readonly modulusBits?: number;
  /** Where new RSA key material comes from (default: node:crypto in the thread pool). */
  readonly rsaKeys?: RsaKeySource;
}

const HOLDERS: Partial<Record<CaScheme, HolderFactory>> = {
  'ed25519-frost': (random) => frostHolder({ random }),
  // One GJKR holder serves the three groups; each scheme name gets its own instance (sessions are by sid).
  'ecdsa-p256': (random) => dlHolder({ random }),
  'ecdsa-secp256k1': (random) => dlHolder({ random }),
  dsa: (random) => dlHolder({ random }),
  'rsa-shoup': (random) => rsaShoupHolder({ random }),
  'rsa-additive': (random) => rsaAdditiveHolder({ random }),
};
const COORDINATORS: Partial<Record<CaScheme, CoordinatorFactory>> = {
  'ed25519-frost': () => frostCoordinator(),
  'ecdsa-p256': () => dlCoordinator('ecdsa-p256'),
  'ecdsa-secp256k1': () => dlCoordinator('ecdsa-secp256k1'),
  dsa: () => dlCoordinator('dsa'),
  'rsa-shoup': (o) => rsaShoupCoordinator(rsaOptions(o)),
  'rsa-additive': (o) => rsaAdditiveCoordinator(rsaOptions(o)),
};

function rsaOptions(o: CoordinatorOptions): RsaCoordinatorOptions {
  return {
    ...(o.modulusBits === undefined ? {} : { modulusBits: o.modulusBits }),
    ...(o.rsaKeys === undefined ? {} : { rsaKeys: o.rsaKeys }),
  };
}

/** A scheme that is not built in refuses every step. */
const unavailable = (scheme: CaScheme): SchemeHolder => ({
  setup: () => Promise.reject(new SchemeError('refused', `scheme ${scheme} is not available here`)),
  sign: () => Promise.reject(new SchemeError('refused', `scheme ${scheme} is not available here`)),
  expire: () => undefined,
});

/** A function giving this server's holder of each scheme, created on first use. */
export function holderRegistry(random: Random): (scheme: CaScheme) => SchemeHolder {
  const made = new Map<CaScheme, SchemeHolder>();
  return (scheme) => {
    let h = made.get(scheme);
    if (h === undefined) {
      h = HOLDERS[scheme]?.(random) ?? unavailable(scheme);
      made.set(scheme, h);
    }
    return h;
  };
}

/** The client's coordinator of a scheme; RangeError when the scheme is not built in. */
export function coordinatorFor(scheme: CaScheme, options: CoordinatorOptions = {}): SchemeCoordinator {
  const f = COORDINATORS[scheme];
  if (f === undefined) throw new RangeError(`scheme ${scheme} is not available`);
  return f(options);
}
