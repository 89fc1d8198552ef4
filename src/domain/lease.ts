/** The DHCP lease, a domain type: the lease table (dhcp/) holds it, the store keeps it. */

export type LeaseState = 'offered' | 'bound' | 'declined' | 'released';

/** A DHCP lease. One per address: the store's key is the IP, so no address is held twice. */
export interface Lease {
  ip: string;
  mac: string;
  state: LeaseState;
  /** ms since the epoch. */
  expiresAt: number;
  clientId?: string | null;
  hostname?: string | null;
  updatedAt: number;
}
