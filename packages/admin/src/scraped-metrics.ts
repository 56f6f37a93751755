/**
 * Prometheus series read from plain counters at scrape time: the hot paths only bump a
 * number, and the exporter copies it when Prometheus asks.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** A counter whose value is `read()` at each scrape. */
export function scrapedCounter(register: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [register],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** A gauge whose value is `read()` at each scrape. */
export function scrapedGauge(register: Registry, name: string, help: string, read: () => number): Gauge {
  return new Gauge({
    name,
    help,
    registers: [register],
    collect() {
      this.set(read());
    },
  });
}
