/**
 * Runs an HTTP server script in a child process, so the load generator and the server do
 * not share one event loop. The child prints `LISTENING <url>` on stdout once bound; it has
 * an IPC channel and exits when the parent goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'

export interface ChildServer {
  url: string
  child: ChildProcess
  stop: () => Promise<void>
}

/** Spawns `node --import tsx <script> ...args` and waits (bounded) for its `LISTENING <url>` line. */
export async function startChildServer (script: string, args: readonly string[] = [], timeoutMs = 20_000): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] })
  const url = await new Promise<string>((resolve, reject) => {
    let buf = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${script} did not report LISTENING within ${timeoutMs} ms`)) }, timeoutMs)
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk
      const m = /LISTENING (\S+)/.exec(buf)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${script} exited with ${code} before listening`)) })
  })
  child.stdout!.resume() // keep draining so the child never blocks on a full pipe
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(t)
    },
  }
}

/** For child scripts: announce the URL and exit when the parent disconnects or signals. */
export function announce (url: string, close: () => void): void {
  process.stdout.write(`LISTENING ${url}\n`)
  const quit = (): void => { close(); process.exit(0) }
  process.on('disconnect', quit)
  process.on('SIGTERM', quit)
  process.on('SIGINT', quit)
}
