// The API framework (GET /health) with or without the metrics timing middleware, for
// bench/metrics.ts. Argument: `on` or `off`.
import '../src/polyfill.ts'
import { createApp, listen } from '../src/api/app.ts'
import { createApiMetrics } from '../src/api/metrics.ts'
import { registerMetricsRoutes } from '../src/api/routes/metrics.ts'
import { createLogger } from '../src/log.ts'
import { marketplaceKinds } from '../src/state/kinds.ts'
import { memoryLevelKv } from '../src/store/level-kv.ts'
import { Replica } from '../src/store/replica.ts'
import { announce } from './child-server.ts'

const on = process.argv[2] === 'on'
const store = new Replica({ replicaId: 'bench', kv: memoryLevelKv(), kinds: marketplaceKinds(), durability: 'none' })
await store.start()
const metrics = createApiMetrics({ store })
// Access logs off: the benchmark measures request handling, not stderr throughput.
const app = createApp({
  log: createLogger({ level: 'warn' }),
  maxBodyBytes: 1 << 20,
  routes: [(t) => registerMetricsRoutes(t, metrics)],
  ...(on ? { timing: metrics.httpMiddleware } : {}),
})
const srv = await listen(app, '127.0.0.1', 0)
announce(srv.url, () => { void srv.close() })
