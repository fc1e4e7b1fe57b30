import type { Epsilon } from '../../../app/contract.js';
import { fmtEps } from '../format.js';
import { EPSILON_BANDS, EPSILON_REFERENCES, epsilonBand, noiseHealth, type NoiseHealth } from '../privacy-scale.js';
import type { DeclaredSettings } from '../../../app/contract.js';

/**
 * ε so far against the cap, with what the next round would add, on one bar; below it, the band the
 * value falls in and a short scale ("what ε means") with reference points.
 */
export function EpsilonMeter({ now, next, cap, viewLabel }: { now: Epsilon; next: Epsilon; cap: number | null; viewLabel: string }) {
  const values = [now, next, cap].filter((v): v is number => v !== null && Number.isFinite(v));
  const top = Math.max(1, ...values) * 1.15;
  const pct = (v: number) => `${Math.min(100, (v / top) * 100).toFixed(2)}%`;
  const band = epsilonBand(now);
  return (
    <div className="eps-meter" data-testid="eps-meter" data-band={band.level}>
      <div className="eps-bar" role="img" aria-label={`ε ${fmtEps(now)} ${viewLabel}${cap !== null ? ` of a cap of ${cap}` : ''}`}>
        {now !== null && <div className="eps-fill" style={{ width: pct(now) }} />}
        {now !== null && next !== null && next > now && <div className="eps-next" style={{ left: pct(now), width: pct(next - now) }} data-testid="eps-next" />}
        {cap !== null && <div className="eps-cap" style={{ left: pct(cap) }} title={`your cap: ${cap}`} />}
        {[1, 3, 10]
          .filter((t) => t < top)
          .map((t) => (
            <span key={t} className="eps-tick" style={{ left: pct(t) }}>
              {t}
            </span>
          ))}
      </div>
      <p className="eps-reading">
        ε {fmtEps(now)} ({viewLabel}) is <strong data-testid="eps-band">{band.text}</strong>.
      </p>
      <details className="eps-scale">
        <summary>What ε means</summary>
        <p>
          ε bounds how much more likely anything the shared model shows becomes because your data was in it: at most e<sup>ε</sup> times, except with the small
          chance δ. Smaller is more private. It grows with every round you take part in, but more slowly than the number of rounds.
        </p>
        <ul>
          {EPSILON_BANDS.map((b) => (
            <li key={b.level}>
              {Number.isFinite(b.upTo) ? `ε ≤ ${b.upTo}` : 'above'}: {b.text}
            </li>
          ))}
        </ul>
        <p>For reference:</p>
        <ul>
          {EPSILON_REFERENCES.map((r) => (
            <li key={r.epsilon}>{r.text}</li>
          ))}
        </ul>
      </details>
    </div>
  );
}

const HEALTH_TEXT: Record<NoiseHealth['level'], string> = {
  ok: 'the noise is smaller than the updates: the model can learn well.',
  high: 'the noise is larger than any single round of updates: the model learns slowly, over many rounds, and stays below what it would reach without noise.',
  swamped:
    'the noise drowns the updates: expect the global model to stay near chance accuracy. More members per round, or a smaller noise multiplier, would help.',
};

/** Whether the federation's noise leaves its updates a signal, for the expected cohort (privacy-scale.ts). */
export function NoiseHint({ settings, parameters }: { settings: DeclaredSettings; parameters: number | undefined }) {
  const health = noiseHealth(settings, parameters);
  if (!health) return null;
  return (
    <p className={`noise-hint ${health.level === 'ok' ? 'muted' : 'warn'}`} data-testid="noise-hint" data-level={health.level}>
      Noise vs signal: with about {settings.expectedClients} member{settings.expectedClients === 1 ? '' : 's'} per round, each round&apos;s noise is about{' '}
      {health.ratio < 10 ? health.ratio.toFixed(1) : Math.round(health.ratio).toLocaleString('en-US')}× the size of the largest possible update —{' '}
      {HEALTH_TEXT[health.level]}
    </p>
  );
}
