import { computeRdp, DEFAULT_ORDERS, epsilonFromRdp, type RoundRecord } from './rdp.js';

/** RDP accountant (Opacus style): records each round's (z, q) and converts the summed RDP to (ε, δ). */
export class RdpAccountant {
  private readonly records: RoundRecord[] = [];
  private readonly rdp: number[] = DEFAULT_ORDERS.map(() => 0);

  get history(): readonly Readonly<RoundRecord>[] {
    return this.records;
  }

  /** Validates and records a round; its RDP is added to the running total (RDP composes by addition). */
  step(record: RoundRecord): void {
    const added = computeRdp([record]);
    this.records.push({ ...record });
    added.forEach((r, k) => (this.rdp[k] += r));
  }

  getEpsilon(delta: number): { epsilon: number; order: number } {
    return epsilonFromRdp(DEFAULT_ORDERS, this.rdp, delta);
  }
}
