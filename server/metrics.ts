import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Reasons are label values, and every distinct label value is a time series kept for the life of
 * the process. They are short codes chosen by the server ('too-few-updates', 'bad-signature'),
 * never free text or anything a client sent: a value that is not a short lowercase slug is
 * counted as 'other', and so is any new value past MAX_REASONS distinct values per metric.
 */
export const MAX_REASONS = 32;
const REASON = /^[a-z0-9][a-z0-9_.-]{0,47}$/;

/** Round durations span seconds (a small simulation) to the default 120 s deadline and beyond. */
export const ROUND_DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600];

export interface ServerMetricsOptions {
  /** Also collect the standard Node.js process metrics (process_*, nodejs_*) into this registry. Default true. */
  defaultMetrics?: boolean;
  /** Labels added to every series, e.g. { federation: 'my-fed' }. */
  labels?: Record<string, string>;
}

/**
 * The aggregator's Prometheus metrics, in a registry of its own (never prom-client's global one,
 * so two servers in one process, as in the tests, do not share counters).
 */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly roundDuration: Histogram;
  private readonly roundsCompleted: Counter;
  private readonly roundsAborted: Counter<'reason'>;
  private readonly participants: Gauge;
  private readonly declined: Gauge;
  private readonly participantsTotal: Counter;
  private readonly declinedTotal: Counter;
  private readonly lastRound: Gauge;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly rejectedUpdates: Counter<'reason'>;
  private readonly rejectedMessages: Counter<'reason'>;
  private readonly connected: Gauge;
  private readonly socketReceived: Counter;
  private readonly partialsReceived: Counter;
  private readonly epsilon: Gauge;
  private readonly maxEpsilon: Gauge;
  private readonly seenReasons = new Map<Counter<'reason'>, Set<string>>();

  constructor(options: ServerMetricsOptions = {}) {
    const registers = [this.registry];
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });

    this.roundDuration = new Histogram({
      name: 'covey_round_duration_seconds',
      help: 'Wall-clock time of completed rounds, from round start to the new global model',
      buckets: ROUND_DURATION_BUCKETS,
      registers,
    });
    this.roundsCompleted = new Counter({ name: 'covey_rounds_completed_total', help: 'Rounds aggregated and checkpointed', registers });
    this.roundsAborted = new Counter({
      name: 'covey_rounds_aborted_total',
      help: 'Round attempts abandoned without changing the model, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.participants = new Gauge({ name: 'covey_round_participants', help: 'Updates aggregated in the last completed round (survivors)', registers });
    this.declined = new Gauge({ name: 'covey_round_declined', help: 'Cohort members that declined the last completed round', registers });
    this.participantsTotal = new Counter({ name: 'covey_round_participants_total', help: 'Updates aggregated, summed over completed rounds', registers });
    this.declinedTotal = new Counter({ name: 'covey_round_declined_total', help: 'Declines, summed over completed rounds', registers });
    this.lastRound = new Gauge({
      name: 'covey_last_round_completed_timestamp_seconds',
      help: 'Unix time at which the last round completed (0 = none since start)',
      registers,
    });
    this.received = new Counter({ name: 'covey_bytes_received_total', help: 'Bytes of update payloads received from clients', registers });
    this.sent = new Counter({ name: 'covey_bytes_sent_total', help: 'Bytes of model payloads sent to clients', registers });
    this.rejectedUpdates = new Counter({
      name: 'covey_rejected_updates_total',
      help: 'Model updates refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.rejectedMessages = new Counter({
      name: 'covey_rejected_messages_total',
      help: 'Protocol messages and connections refused, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.socketReceived = new Counter({
      name: 'covey_socket_bytes_received_total',
      help: 'Bytes of every socket message received (updates, handshakes, claims), as they arrive',
      registers,
    });
    this.partialsReceived = new Counter({
      name: 'covey_edge_partial_bytes_received_total',
      help: "Coordinator: bytes of its edges' partial sums taken from Redis",
      registers,
    });
    this.connected = new Gauge({ name: 'covey_connected_clients', help: 'Authenticated clients connected now', registers });
    this.epsilon = new Gauge({
      name: 'covey_federation_epsilon',
      help: 'Federation-wide privacy loss ε so far at the configured δ (NaN when DP is off)',
      registers,
    });
    this.maxEpsilon = new Gauge({
      name: 'covey_federation_max_epsilon',
      help: 'Configured privacy budget maxEpsilon (NaN when none)',
      registers,
    });
    this.epsilon.set(Number.NaN);
    this.maxEpsilon.set(Number.NaN);
  }

  /** A round was aggregated: its duration, how many updates were aggregated and how many declined. */
  roundCompleted(seconds: number, participants: number, declined: number): void {
    this.roundDuration.observe(nonNegative(seconds));
    this.roundsCompleted.inc();
    this.participants.set(nonNegative(participants));
    this.declined.set(nonNegative(declined));
    this.participantsTotal.inc(nonNegative(participants));
    this.declinedTotal.inc(nonNegative(declined));
    this.lastRound.set(Date.now() / 1000);
  }

  /** A round attempt ended without a model change ('cohort-too-small', 'too-few-updates', 'shutdown', ...). */
  roundAborted(reason: string): void {
    this.roundsAborted.inc({ reason: this.reason(this.roundsAborted, reason) });
  }

  bytesIn(n: number): void {
    this.received.inc(nonNegative(n));
  }

  /** A socket message arrived (connections.ts), whatever it is. */
  socketBytesIn(n: number): void {
    this.socketReceived.inc(nonNegative(n));
  }

  /** A coordinator took an edge's partial sum (cluster/partials.ts). */
  partialBytesIn(n: number): void {
    this.partialsReceived.inc(nonNegative(n));
  }

  bytesOut(n: number): void {
    this.sent.inc(nonNegative(n));
  }

  /** An update was refused ('stale-round', 'duplicate', 'not-in-cohort', 'bad-envelope', ...). */
  updateRejected(reason: string): void {
    this.rejectedUpdates.inc({ reason: this.reason(this.rejectedUpdates, reason) });
  }

  /** A message or connection was refused ('malformed', 'bad-invite', 'rate-limited', ...). */
  messageRejected(reason: string): void {
    this.rejectedMessages.inc({ reason: this.reason(this.rejectedMessages, reason) });
  }

  connectedClients(n: number): void {
    this.connected.set(nonNegative(n));
  }

  /** The federation's ε so far (null with DP off) and, when given, the configured budget. */
  federationEpsilon(epsilon: number | null, maxEpsilon?: number | null): void {
    this.epsilon.set(epsilon ?? Number.NaN);
    if (maxEpsilon !== undefined) this.maxEpsilon.set(maxEpsilon ?? Number.NaN);
  }

  /** Prometheus text exposition of every metric in this registry. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private reason(metric: Counter<'reason'>, raw: string): string {
    const value = typeof raw === 'string' && REASON.test(raw) ? raw : 'other';
    let seen = this.seenReasons.get(metric);
    if (!seen) this.seenReasons.set(metric, (seen = new Set()));
    if (seen.has(value)) return value;
    if (seen.size >= MAX_REASONS) return 'other';
    seen.add(value);
    return value;
  }
}

function nonNegative(n: number): number {
  return Number.isFinite(n) && n > 0 ? n : 0;
}
