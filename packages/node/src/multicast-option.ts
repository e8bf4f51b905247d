/**
 * createCluster's `multicast` option: find peers on the local network by UDP multicast
 * announcements (@grapevine/discovery's MulticastDiscovery) and join them as they are heard.
 * With encryption on, announcements are sealed with the cluster's cipher and keys, so only nodes
 * holding a key are found.
 */
import { GrapevineError, type Logger } from '@grapevine/core';
import { DEFAULT_MULTICAST_GROUP, MulticastDiscovery, type MulticastAuth } from '@grapevine/discovery';
import type { EncryptionOptions } from '@grapevine/core';

/**
 * The default multicast port: one above the default gossip port. The UDP+TCP transport holds its
 * port without SO_REUSEADDR, so announcements cannot share 7946 with a node gossiping there.
 */
export const DEFAULT_CLUSTER_MULTICAST_PORT = 7947;

export interface MulticastOption {
  /** Multicast group. Default 239.0.0.1. */
  group?: string;
  /** UDP port of the group. Default 7947 (not the gossip port: see DEFAULT_CLUSTER_MULTICAST_PORT). */
  port?: number;
  /** Interface to announce and listen on: its IPv4 address or name ("eth0", "lo"). Default: the kernel's choice. */
  interface?: string;
  /** Also deliver announcements to other processes on this host. Default true. */
  loopback?: boolean;
  /** Milliseconds between announcements (a newcomer is answered at once). Default 5000. */
  announceInterval?: number;
  /** Multicast TTL. Default 1: the local network only. */
  ttl?: number;
}

/** `true` means every default; an object sets some; false/undefined: no multicast. */
export type MulticastChoice = boolean | MulticastOption;

const KEYS = new Set(['group', 'port', 'interface', 'loopback', 'announceInterval', 'ttl']);

/** The option checked (before anything binds); undefined when multicast is off. */
export function checkMulticastOption(choice: MulticastChoice | undefined): MulticastOption | undefined {
  if (choice === undefined || choice === false) return undefined;
  if (choice === true) return {};
  if (typeof choice !== 'object' || choice === null || Array.isArray(choice)) {
    throw new GrapevineError('ERR_INVALID_OPTION', 'option multicast must be true or an object ({group, port, interface, loopback, announceInterval, ttl})');
  }
  for (const key of Object.keys(choice)) {
    if (!KEYS.has(key)) throw new GrapevineError('ERR_INVALID_OPTION', `option multicast: unknown key "${key}" (known: ${[...KEYS].join(', ')})`);
  }
  // MulticastDiscovery checks every value when it is made; make one now so mistakes surface first.
  new MulticastDiscovery(discoveryOptions(choice, 'check', '127.0.0.1:1', '', undefined, undefined));
  return choice;
}

/** A MulticastDiscovery announcing `advertise` for this node (not started). */
export function createMulticast(
  option: MulticastOption,
  name: string,
  advertise: string,
  label: string | undefined,
  encryption: Pick<EncryptionOptions, 'cipher' | 'keyring'> | undefined,
  logger: Logger | undefined,
): MulticastDiscovery {
  return new MulticastDiscovery(discoveryOptions(option, name, advertise, label ?? '', encryption, logger));
}

function discoveryOptions(
  o: MulticastOption,
  name: string,
  advertise: string,
  label: string,
  encryption: Pick<EncryptionOptions, 'cipher' | 'keyring'> | undefined,
  logger: Logger | undefined,
): ConstructorParameters<typeof MulticastDiscovery>[0] {
  return {
    name,
    advertise,
    label,
    group: o.group ?? DEFAULT_MULTICAST_GROUP,
    port: o.port ?? DEFAULT_CLUSTER_MULTICAST_PORT,
    ...(o.interface !== undefined ? { interface: o.interface } : {}),
    ...(o.loopback !== undefined ? { loopback: o.loopback } : {}),
    ...(o.announceInterval !== undefined ? { announceInterval: o.announceInterval } : {}),
    ...(o.ttl !== undefined ? { ttl: o.ttl } : {}),
    ...(encryption !== undefined ? { auth: multicastAuth(encryption) } : {}),
    ...(logger !== undefined ? { logger } : {}),
  };
}

/**
 * Seal announcements with the primary key and accept every installed key. The keys are those of
 * the moment the node starts: a key rotated in later reaches multicast only when the node restarts
 * (gossip itself follows the keyring at once).
 */
function multicastAuth(encryption: Pick<EncryptionOptions, 'cipher' | 'keyring'>): MulticastAuth {
  const { cipher, keyring } = encryption;
  const primary = keyring.primary;
  const others: Uint8Array[] = [];
  const all = (keyring as { keys?: () => Uint8Array[] }).keys?.();
  for (const k of all ?? []) if (!sameBytes(k, primary.key)) others.push(k);
  return { cipher, key: primary.key, previousKeys: others };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
