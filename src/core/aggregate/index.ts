export * from './fedavg.js';
export * from './optimizer-state.js';
export * from './robust.js';
export * from './server-optimizer.js';
export * from './strategy.js';
