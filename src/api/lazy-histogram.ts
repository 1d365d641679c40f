/**
 * A Prometheus histogram for the per-request hot path. prom-client's `Histogram.observe`
 * validates the labels, hashes them and looks the series up in an object map on every call
 * (even through `labels()`), ~7% of a request's CPU here; this one keeps each series as a
 * plain array of bucket counts that the caller looks up once and bumps with two additions.
 * Nothing is folded per request: the exposition is built when the registry is scraped.
 *
 * It registers in a prom-client `Registry` as a metric of its own (the registry only needs
 * `name`, `help`, `type`, `aggregator`, `get()`, `getForPromString()` and `reset()`), and its
 * samples are exactly those a prom-client `Histogram` with the same buckets would print for
 * the same observations (test/api/lazy-histogram.test.ts compares the two texts).
 */
import type { Registry } from 'prom-client'

/** One labelled series: counts per bucket (non-cumulative; the last slot is above every bound). */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>
  readonly counts: number[]
  sum: number
  count: number
}

interface Sample {
  labels: Record<string, string | number>
  sharedLabels: Readonly<Record<string, string>>
  value: number
  metricName: string
  exemplar: null | undefined
}

export interface LazyHistogramOptions {
  name: string
  help: string
  labelNames: readonly string[]
  /** Upper bounds in seconds (or any unit), increasing. */
  buckets: readonly number[]
  registers?: readonly Registry[]
}

/** A histogram whose series are bumped directly and rendered on scrape. */
export class LazyHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly labelNames: readonly string[]
  private readonly bounds: readonly number[]
  private series = new Map<string, HistogramSeries>()

  constructor (opts: LazyHistogramOptions) {
    for (let i = 1; i < opts.buckets.length; i++) {
      if (!(opts.buckets[i]! > opts.buckets[i - 1]!)) throw new Error(`${opts.name}: buckets must increase`)
    }
    if (opts.labelNames.includes('le')) throw new Error('le is a reserved label keyword')
    this.name = opts.name
    this.help = opts.help
    this.labelNames = [...opts.labelNames]
    this.bounds = [...opts.buckets]
    for (const r of opts.registers ?? []) r.registerMetric(this as never)
  }

  /**
   * The series for `labels` (created on first use, in the key order of `labelNames`). Callers
   * cache it: the point of this class is that an observation is not a lookup.
   */
  seriesFor (labels: Readonly<Record<string, string>>): HistogramSeries {
    const key = this.labelNames.map((n) => labels[n] ?? '').join('\u0000')
    let s = this.series.get(key)
    if (s === undefined) {
      const own: Record<string, string> = {}
      for (const n of this.labelNames) if (labels[n] !== undefined) own[n] = labels[n]!
      s = { labels: Object.freeze(own), counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    return s
  }

  /** Records one value in `series` (finite values only, as prom-client requires). */
  observe (series: HistogramSeries, value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`)
    const b = this.bounds
    let i = 0
    while (i < b.length && value > b[i]!) i++
    series.counts[i]!++
    series.sum += value
    series.count++
  }

  /** Forgets every series (prom-client `reset`). */
  reset (): void {
    this.series = new Map()
  }

  /** The samples in prom-client's exposition form (bucket labels `le`, series labels shared). */
  async getForPromString (): Promise<{ name: string, help: string, type: string, values: Sample[], aggregator: string }> {
    const values: Sample[] = []
    const bucket = `${this.name}_bucket`
    for (const s of this.series.values()) {
      let acc = 0
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.counts[i]!
        values.push({ labels: { le: this.bounds[i]! }, sharedLabels: s.labels, value: acc, metricName: bucket, exemplar: null })
      }
      values.push({ labels: { le: '+Inf' }, sharedLabels: s.labels, value: s.count, metricName: bucket, exemplar: null })
      values.push({ labels: {}, sharedLabels: s.labels, value: s.sum, metricName: `${this.name}_sum`, exemplar: undefined })
      values.push({ labels: {}, sharedLabels: s.labels, value: s.count, metricName: `${this.name}_count`, exemplar: undefined })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /** The samples as prom-client's `get()` gives them (series labels merged into each sample's). */
  async get (): Promise<{ name: string, help: string, type: string, values: Array<Omit<Sample, 'sharedLabels'>>, aggregator: string }> {
    const data = await this.getForPromString()
    return {
      ...data,
      values: data.values.map(({ sharedLabels, labels, ...rest }) => ({ ...rest, labels: { ...labels, ...sharedLabels } })),
    }
  }
}
