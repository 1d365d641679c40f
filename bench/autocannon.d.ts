// Minimal types for the parts of autocannon's programmatic API the benchmarks use.
declare module 'autocannon' {
  interface Histogram { average: number, mean: number, stddev: number, min: number, max: number, total: number, p50: number, p90: number, p97_5: number, p99: number }
  export interface Result {
    requests: Histogram
    latency: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    duration: number
  }
  export interface Options {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string
    connections?: number
    pipelining?: number
    duration?: number
    timeout?: number
  }
  function autocannon (opts: Options): Promise<Result> & { stop?: () => void }
  export default autocannon
}
