/** A time chart (uPlot): one x axis of seconds, a few series; follows its box's width. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
}

export function TimeChart(props: { title: string; times: number[]; series: Series[]; unit?: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const shape = props.series.map((s) => s.label).join('|');

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: props.height ?? 200,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.15)' } },
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.15)' }, size: 56, values: (_u, ticks) => ticks.map((t) => `${compact(t)}${props.unit ?? ''}`) },
      ],
      series: [{}, ...props.series.map((s) => ({ label: s.label, stroke: s.color, width: 1.6, fill: s.color + '18', points: { show: false } }))],
    };
    const p = new uPlot(opts, [props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = p;
    const ro = new ResizeObserver(() => p.setSize({ width: Math.max(el.clientWidth, 200), height: props.height ?? 200 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      p.destroy();
      plot.current = undefined;
    };
    // rebuilt only when the series change; data updates go through setData
  }, [shape, props.height, props.unit]);

  useEffect(() => {
    plot.current?.setData([props.times, ...props.series.map((s) => s.values)] as uPlot.AlignedData);
  }, [props.times, props.series]);

  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={`${props.title}: ${summary(props.series)}`} />
    </figure>
  );
}

function compact(n: number): string {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(1)}M`;
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(1)}k`;
  return `${+n.toFixed(2)}`;
}

/** The latest value of each series, for screen readers. */
function summary(series: Series[]): string {
  return series.map((s) => `${s.label} ${compact(s.values[s.values.length - 1] ?? 0)}`).join(', ');
}
