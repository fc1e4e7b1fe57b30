export * from './frame.js';
export * from './messages.js';
export * from './invite.js';
export * from './signed.js';
export * from './preview.js';
export * from './ack.js';
export * from './availability.js';
export * from './end.js';
