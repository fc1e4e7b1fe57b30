export * from './frame.js';
export * from './messages.js';
export * from './invite.js';
