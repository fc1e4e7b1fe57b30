import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  dash?: number[];
}

/** A line chart (uPlot) of several series over rounds; a short text stands in where there is no canvas. */
export function LineChart({ x, series, yLabel, height = 220, testId }: { x: number[]; series: Series[]; yLabel: string; height?: number; testId?: string }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [failed, setFailed] = useState(false);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    // No 2D canvas (a DOM without one, or canvas disabled): say so rather than fail inside uPlot.
    if (!document.createElement('canvas').getContext?.('2d')) {
      setFailed(true);
      return;
    }
    try {
      const width = Math.max(320, el.clientWidth || 640);
      const options: uPlot.Options = {
        width,
        height,
        scales: { x: { time: false } },
        axes: [
          { label: 'round', stroke: '#5b6270', grid: { stroke: '#e6e8ec' }, incrs: [1, 2, 5, 10, 20, 50, 100] },
          { label: yLabel, stroke: '#5b6270', grid: { stroke: '#e6e8ec' }, size: 56 },
        ],
        legend: { show: true, live: false },
        series: [{ label: 'round' }, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.dash, points: { show: true, size: 5 } }))],
      };
      plot.current = new uPlot(options, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
      setFailed(false);
      const resize =
        typeof ResizeObserver === 'function' ? new ResizeObserver(() => plot.current?.setSize({ width: Math.max(320, el.clientWidth), height })) : null;
      resize?.observe(el);
      return () => {
        resize?.disconnect();
        plot.current?.destroy();
        plot.current = null;
      };
    } catch {
      setFailed(true);
      return undefined;
    }
    // Rebuilt only when the series change; data updates go through setData below.
  }, [shape, height, yLabel]);

  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);

  return (
    <div className="chart" data-testid={testId}>
      <div ref={box} />
      {failed && <p className="muted">The chart cannot be drawn here; the table below has the same numbers.</p>}
    </div>
  );
}
