/** A socket.io acknowledgement callback as received from the wire: any argument, no result. */
export type Ack = (reply: unknown) => void;

/** Whether a value received where an acknowledgement may stand is a callable one. */
export function isAck(value: unknown): value is Ack {
  return typeof value === 'function';
}
