export * from './fedavg.js';
