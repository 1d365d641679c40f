// The API framework with only its built-in routes, for measuring framework overhead.
import '../src/polyfill.ts'
import { createApp, listen } from '../src/api/app.ts'
import { createLogger } from '../src/log.ts'
import { announce } from './child-server.ts'

// Access logs off: the benchmark measures request handling, not stderr throughput.
const app = createApp({ log: createLogger({ level: 'warn' }), maxBodyBytes: 1 << 20 })
const srv = await listen(app, '127.0.0.1', 0)
announce(srv.url, () => { void srv.close() })
