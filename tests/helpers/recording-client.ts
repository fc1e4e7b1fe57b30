import { FederationClient, type FederationClientOptions, type PlainRelease } from '../../src/client/federation-client.js';
import type { SecureRelease, SecureRoundStart } from '../../src/client/secure-attempts.js';
import { encodeFrame, encodeMaskedFrame } from '../../src/core/protocol/frame.js';
import type { RoundStart } from '../../src/core/protocol/messages.js';

/**
 * A real FederationClient that keeps a copy of every update it releases, framed as it is before
 * sealing (plain round) or masking (secure round): the bytes that must never cross the wire.
 */
export class RecordingClient extends FederationClient {
  readonly plaintexts: Uint8Array[] = [];
  private readonly numExamples: number;

  constructor(options: FederationClientOptions) {
    super(options);
    this.numExamples = options.data.count;
  }

  protected override async plainRelease(start: RoundStart, global: Float32Array): Promise<PlainRelease> {
    const release = await super.plainRelease(start, global);
    this.plaintexts.push(encodeFrame({ kind: 'update', round: start.round, numExamples: this.numExamples, values: release.values }));
    return release;
  }

  protected override async secureRelease(start: SecureRoundStart, global: Float32Array): Promise<SecureRelease> {
    const release = await super.secureRelease(start, global);
    this.plaintexts.push(encodeMaskedFrame(start.round, release.values));
    return release;
  }
}
