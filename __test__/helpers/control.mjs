// Helpers for the control server tests: a server on loopback over a fresh store, and
// requests over real HTTP.
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { CheckpointCoordinator, MemoryBackend } from '../../dist/index.js'
import { createControlServer } from '../../dist/control.js'
import { tempDir } from './tmp.mjs'

export const TOKEN = 'test-token-0123456789abcdef'
export const AUTH = { authorization: `Bearer ${TOKEN}` }

// A memory backend, a coordinator in a temp dir (or `coordinator(backend, dir)`), and
// a control server with TOKEN; all closed when the test ends.
export async function start(t, opts = {}) {
  const { coordinator: makeCoordinator, backend: given, ...serverOpts } = opts
  const dir = path.join(tempDir(t), 'checkpoints')
  const backend = given ?? new MemoryBackend()
  const coordinator = makeCoordinator === null ? undefined : makeCoordinator ? makeCoordinator(backend, dir) : new CheckpointCoordinator(backend, { dir, interval: 60_000 })
  const server = await createControlServer({ backend, coordinator, token: TOKEN, env: {}, ...serverOpts })
  t.teardown(async () => {
    await server.close()
    await backend.close()
  })
  return { backend, coordinator, server, dir, url: server.url }
}

// fetch with the token unless headers say otherwise; resolves { status, headers, body, text }.
export async function call(url, { method = 'GET', headers = AUTH, body } = {}) {
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) })
  const text = await res.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, headers: res.headers, body: json, text }
}

// A raw HTTP/1.1 exchange on a new socket: writes `chunks` (with `gapMs` between them),
// resolves everything the server sent before it closed (or after `waitMs`).
export function raw(url, chunks, { gapMs = 0, waitMs = 10_000 } = {}) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname)
    let out = ''
    // After the timer, one turn of the poll phase first: the answer may be waiting in
    // the socket if another test blocked this event loop for a while.
    const timer = setTimeout(() => setImmediate(() => {
      socket.destroy()
      resolve(out || `<nothing within ${waitMs} ms>`)
    }), waitMs)
    socket.setEncoding('utf8')
    socket.on('data', (d) => (out += d))
    socket.on('error', (e) => (out ? resolve(out) : reject(e)))
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(out || '<closed with no answer>')
    })
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) return
        socket.write(c)
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs))
      }
    })
  })
}

// POST with a chunked body of `size` bytes, no Content-Length; resolves { status, body }.
export function postChunked(url, size, headers = AUTH) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (text += d))
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text), connection: res.headers.connection }))
    })
    req.on('error', reject)
    const chunk = Buffer.alloc(8192, 0x20)
    let sent = 0
    const write = () => {
      while (sent < size) {
        sent += chunk.length
        if (!req.write(chunk)) return req.once('drain', write)
      }
      req.end()
    }
    write()
  })
}

// Parses the Prometheus text exposition format (0.0.4) strictly: every sample line
// must be `name{label="value",...} number`, every family must have # HELP and # TYPE
// before its samples. Throws on anything else. Returns { samples: {'name{labels}': n}, types }.
export function parsePrometheus(text) {
  const types = {}
  const helps = {}
  const samples = {}
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*'
  const sample = new RegExp(`^(${name})(\\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*",?)*\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?|NaN|\\+Inf|-Inf))(?: -?[0-9]+)?$`)
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue
    let m
    if ((m = new RegExp(`^# HELP (${name}) (.*)$`).exec(line))) helps[m[1]] = m[2]
    else if ((m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) types[m[1]] = m[2]
    else if ((m = sample.exec(line))) {
      const family = m[1].replace(/_(bucket|sum|count)$/, '')
      const t = types[m[1]] ?? types[family]
      if (!t) throw new Error(`sample before its # TYPE: ${line}`)
      if (!(helps[m[1]] ?? helps[family])) throw new Error(`sample without # HELP: ${line}`)
      samples[m[1] + (m[2] ?? '')] = Number(m[3])
    } else throw new Error(`not Prometheus text: ${JSON.stringify(line)}`)
  }
  return { samples, types }
}
