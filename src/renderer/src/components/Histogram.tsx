import { fmtCount } from '../format.js';

/** Examples per class as horizontal bars. */
export function Histogram({ counts }: { counts: number[] }) {
  const max = Math.max(1, ...counts);
  return (
    <ul className="histogram" aria-label="Examples per class">
      {counts.map((count, label) => (
        <li key={label}>
          <span className="histogram-label">{label}</span>
          <span className="histogram-track">
            <span className="histogram-bar" style={{ width: `${(count / max) * 100}%` }} />
          </span>
          <span className="histogram-count">{fmtCount(count)}</span>
        </li>
      ))}
    </ul>
  );
}
