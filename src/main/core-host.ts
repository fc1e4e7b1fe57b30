/**
 * Entry of the Electron utility process that runs the app core: the federation client, local
 * training and the ledger live here, so a long training step never blocks the window. Started
 * by the main process with utilityProcess.fork; talks to it over process.parentPort.
 */
import { AppCore } from '../app/core.js';
import { createDispatcher } from '../app/dispatch.js';
import { serveCore, type ParentLike } from './core-channel.js';

const parent = (process as unknown as { parentPort?: ParentLike }).parentPort;
if (!parent) throw new Error('core-host runs only as an Electron utility process');

serveCore(parent, async (init, identityFor) => {
  const core = await AppCore.open({
    stateDir: init.stateDir,
    shell: 'electron',
    nativeDialogs: true,
    version: init.version,
    loadIdentity: identityFor,
  });
  return {
    dispatch: createDispatcher(core),
    subscribe: (listener) => core.on('event', listener),
  };
});
