import sodiumModule from 'libsodium-wrappers';

export type Sodium = typeof sodiumModule;

/** libsodium, initialised once. Every crypto and noise source in Covey goes through this. */
export async function getSodium(): Promise<Sodium> {
  await sodiumModule.ready;
  return sodiumModule;
}
