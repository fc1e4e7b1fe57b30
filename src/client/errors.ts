/** A failure a person can act on (unreachable server, refused invite, key mismatch), with a reason code. */
export class ClientError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}
