import { join } from 'node:path';
import { FederationClient } from '../../src/client/federation-client.js';
import { generateIdentity } from '../../src/core/crypto/index.js';
import type { Dataset } from '../../src/core/data/dataset.js';
import type { Invite } from '../../src/core/protocol/invite.js';

/**
 * One connected participant per partition, each with a fresh identity and its state under `root`:
 * participant i connects to `urls(i)[0]` and fails over to the rest in turn. `track` gets each client
 * so the caller can close it.
 */
export async function connectThroughEdges(args: {
  parts: readonly Dataset[];
  root: string;
  invite: Invite;
  urls: (i: number) => string[];
  track: (client: FederationClient) => void;
}): Promise<FederationClient[]> {
  const { parts, root, invite, urls, track } = args;
  return Promise.all(
    parts.map(async (data, i) => {
      const [serverUrl, ...fallbackUrls] = urls(i);
      const client = new FederationClient({
        serverUrl,
        fallbackUrls,
        stateDir: join(root, `client-${i}`),
        invite,
        identity: await generateIdentity(),
        data,
        trainSeed: i,
      });
      track(client);
      await client.connect();
      return client;
    }),
  );
}
