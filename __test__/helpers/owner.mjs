// Drives a lease-owner fixture process: `call(cmd)` sends a command and resolves its reply.
import { spawn } from 'node:child_process'
import readline from 'node:readline'

const fixture = new URL('../fixtures/lease-owner.mjs', import.meta.url).pathname

export function owner(t, args, env = process.env) {
  const child = spawn(process.execPath, [fixture, ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] })
  const replies = []
  const waiting = []
  const events = []
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line)
    if (msg.event) return events.push(msg)
    const w = waiting.shift()
    if (w) w(msg)
    else replies.push(msg)
  })
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  return {
    child,
    events,
    call(cmd) {
      child.stdin.write(JSON.stringify(cmd) + '\n')
      return new Promise((resolve) => (replies.length ? resolve(replies.shift()) : waiting.push(resolve)))
    },
  }
}
