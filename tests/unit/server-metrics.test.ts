import { describe, expect, it } from 'vitest';
import { MAX_REASONS, ServerMetrics } from '../../server/metrics.js';

/** The value of one series in Prometheus text, e.g. sample(text, 'covey_rejected_messages_total{reason="malformed"}'). */
function sample(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    if (line.slice(0, cut) === series) return Number(line.slice(cut + 1));
  }
  return undefined;
}

describe('ServerMetrics', () => {
  it('starts at zero and exposes every covey_ metric with help and type', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    const text = await m.text();
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of [
      'covey_round_duration_seconds',
      'covey_rounds_completed_total',
      'covey_rounds_aborted_total',
      'covey_round_participants',
      'covey_round_declined',
      'covey_bytes_received_total',
      'covey_bytes_sent_total',
      'covey_rejected_updates_total',
      'covey_rejected_messages_total',
      'covey_connected_clients',
      'covey_federation_epsilon',
      'covey_federation_max_epsilon',
    ]) {
      expect(text).toContain(`# HELP ${name} `);
      expect(text).toMatch(new RegExp(`# TYPE ${name} (counter|gauge|histogram)`));
    }
    expect(sample(text, 'covey_rounds_completed_total')).toBe(0);
    expect(sample(text, 'covey_round_duration_seconds_count')).toBe(0);
    // With DP off there is no ε: NaN, not a misleading 0.
    expect(sample(text, 'covey_federation_epsilon')).toBeNaN();
  });

  it('counts rounds, their durations, participants and declines', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.roundCompleted(3.5, 10, 2);
    m.roundCompleted(45, 8, 0);
    const text = await m.text();
    expect(sample(text, 'covey_rounds_completed_total')).toBe(2);
    expect(sample(text, 'covey_round_duration_seconds_count')).toBe(2);
    expect(sample(text, 'covey_round_duration_seconds_sum')).toBeCloseTo(48.5);
    expect(sample(text, 'covey_round_duration_seconds_bucket{le="5"}')).toBe(1);
    expect(sample(text, 'covey_round_duration_seconds_bucket{le="60"}')).toBe(2);
    expect(sample(text, 'covey_round_duration_seconds_bucket{le="+Inf"}')).toBe(2);
    // The gauges hold the last round; the totals add up.
    expect(sample(text, 'covey_round_participants')).toBe(8);
    expect(sample(text, 'covey_round_declined')).toBe(0);
    expect(sample(text, 'covey_round_participants_total')).toBe(18);
    expect(sample(text, 'covey_round_declined_total')).toBe(2);
    const last = sample(text, 'covey_last_round_completed_timestamp_seconds')!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(60);
  });

  it('counts bytes, connections, ε and aborted rounds', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.bytesIn(6_600_000);
    m.bytesIn(1234);
    m.bytesOut(500);
    m.bytesIn(-5); // never decreases a counter (prom-client would throw)
    m.bytesOut(Number.NaN);
    m.connectedClients(7);
    m.connectedClients(5);
    m.federationEpsilon(1.25, 8);
    m.roundAborted('too-few-updates');
    m.roundAborted('too-few-updates');
    m.roundAborted('cohort-too-small');
    const text = await m.text();
    expect(sample(text, 'covey_bytes_received_total')).toBe(6_601_234);
    expect(sample(text, 'covey_bytes_sent_total')).toBe(500);
    expect(sample(text, 'covey_connected_clients')).toBe(5);
    expect(sample(text, 'covey_federation_epsilon')).toBe(1.25);
    expect(sample(text, 'covey_federation_max_epsilon')).toBe(8);
    expect(sample(text, 'covey_rounds_aborted_total{reason="too-few-updates"}')).toBe(2);
    expect(sample(text, 'covey_rounds_aborted_total{reason="cohort-too-small"}')).toBe(1);
    m.federationEpsilon(null);
    expect(sample(await m.text(), 'covey_federation_epsilon')).toBeNaN();
    expect(sample(await m.text(), 'covey_federation_max_epsilon')).toBe(8);
  });

  it('counts rejections by reason, with free text and unbounded reasons folded into "other"', async () => {
    const m = new ServerMetrics({ defaultMetrics: false });
    m.updateRejected('stale-round');
    m.updateRejected('duplicate');
    m.updateRejected('stale-round');
    m.messageRejected('malformed');
    m.messageRejected('bad-invite');
    m.messageRejected('only 1 of 3 updates arrived "before" the deadline\n'); // free text: not a label value
    let text = await m.text();
    expect(sample(text, 'covey_rejected_updates_total{reason="stale-round"}')).toBe(2);
    expect(sample(text, 'covey_rejected_updates_total{reason="duplicate"}')).toBe(1);
    expect(sample(text, 'covey_rejected_messages_total{reason="malformed"}')).toBe(1);
    expect(sample(text, 'covey_rejected_messages_total{reason="bad-invite"}')).toBe(1);
    expect(sample(text, 'covey_rejected_messages_total{reason="other"}')).toBe(1);
    expect(text).not.toContain('deadline\n"');

    // A flood of distinct reasons cannot grow the series without bound.
    for (let i = 0; i < 200; i++) m.messageRejected(`reason-${i}`);
    text = await m.text();
    const series = text.split('\n').filter((l) => l.startsWith('covey_rejected_messages_total{'));
    expect(series.length).toBeLessThanOrEqual(MAX_REASONS + 1);
    expect(sample(text, 'covey_rejected_messages_total{reason="other"}')).toBeGreaterThan(100);
  });

  it('keeps its own registry: two servers do not share counts, and default Node metrics are collected into it', async () => {
    const a = new ServerMetrics({ labels: { federation: 'a' } });
    const b = new ServerMetrics({ defaultMetrics: false });
    a.roundCompleted(1, 2, 0);
    const textA = await a.text();
    const textB = await b.text();
    expect(sample(textA, 'covey_rounds_completed_total{federation="a"}')).toBe(1);
    expect(sample(textB, 'covey_rounds_completed_total')).toBe(0);
    expect(textA).toContain('process_cpu_user_seconds_total');
    expect(textA).toContain('nodejs_heap_size_used_bytes');
    expect(textB).not.toContain('process_cpu_user_seconds_total');
  });
});
