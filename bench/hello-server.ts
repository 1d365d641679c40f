// The baseline: a Koa hello-world on 127.0.0.1, no middleware. Run by http-harness.ts.
import '../src/polyfill.ts'
import Koa from 'koa'
import type { AddressInfo } from 'node:net'
import { announce } from './child-server.ts'

const app = new Koa()
app.use((ctx) => { ctx.body = { hello: 'world' } })
const server = app.listen(0, '127.0.0.1', () => {
  announce(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => server.close())
})
