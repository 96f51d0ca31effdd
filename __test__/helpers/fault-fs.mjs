// Faults on a real filesystem: a small tmpfs this test mounts (disk full), immutable
// directories (read-only even for root) and a read-only remount. Everything is undone
// in the test's teardown, even when the test fails. Needs root: without it, every
// helper throws, so the test FAILS with that message instead of being skipped.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const PAGE = 4096

/** Throws unless this process is root: mounting and chattr need it, and CI runs as root. */
export function requireRoot() {
  const uid = process.getuid?.()
  if (uid !== 0) {
    throw new Error(
      `the fault tests must run as root (uid 0) to mount a tmpfs and use chattr +i; this process runs as uid ${uid}. ` +
        'Run them as root (CI does); they are not skipped.',
    )
  }
}

const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })

/**
 * Mounts a fresh tmpfs of `size` (mount's syntax: '8m') and returns its path. The
 * teardown kills what `track` was given, makes immutable paths writable again,
 * unmounts (lazily if something still holds it) and removes the mount point.
 */
export function mountTmpfs(t, size = '8m') {
  requireRoot()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statekit-fault-'))
  sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir])
  const mnt = { dir, immutable: new Set(), children: new Set() }
  mounts.set(dir, mnt)
  t.teardown(() => {
    for (const child of mnt.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const p of mnt.immutable) {
      try {
        sh('chattr', ['-i', p])
      } catch {}
    }
    try {
      sh('mount', ['-o', 'remount,rw', dir])
    } catch {}
    try {
      sh('umount', [dir])
    } catch {
      // A killed child may not have let go yet.
      sh('umount', ['-l', dir])
    }
    fs.rmdirSync(dir)
  })
  return dir
}

const mounts = new Map()
const mountOf = (p) => {
  for (const [dir, m] of mounts) if (p === dir || p.startsWith(dir + path.sep)) return m
  throw new Error(`${p} is not on a tmpfs mounted by mountTmpfs`)
}

/** Kills `child` (if still running) before its mount is unmounted. */
export function track(dir, child) {
  mountOf(dir).children.add(child)
  return child
}

/**
 * Fills the filesystem holding `dir` to the last byte with one file and returns
 * `{ file, bytes }`. tmpfs hands out whole pages, so every later write of data fails
 * with ENOSPC (creating an empty file still works: inodes are counted apart).
 */
export function fillUp(dir) {
  const file = path.join(dir, 'filler')
  const fd = fs.openSync(file, 'w')
  let chunk = 1 << 20
  const buf = Buffer.alloc(chunk, 0xa5)
  let bytes = 0
  try {
    while (chunk >= 1) {
      try {
        const n = fs.writeSync(fd, buf, 0, chunk)
        bytes += n
        if (n < chunk) chunk >>= 1
      } catch (e) {
        if (e.code !== 'ENOSPC') throw e
        chunk >>= 1
      }
    }
  } finally {
    fs.closeSync(fd)
  }
  if (fs.statfsSync(dir).bfree !== 0) throw new Error(`${dir} is not full after writing ${bytes} bytes`)
  return { file, bytes }
}

/** Frees exactly `pages` pages of a full filesystem by shortening its filler. */
export function leavePages(filler, pages) {
  fs.truncateSync(filler.file, filler.bytes - pages * PAGE)
  return pages
}

/** Frees the space the filler took: the space "returns". */
export function freeSpace(filler) {
  fs.rmSync(filler.file, { force: true })
}

/** Makes `p` immutable (chattr +i): as root, the only way a directory refuses writes. */
export function makeImmutable(p) {
  requireRoot()
  sh('chattr', ['+i', p])
  mountOf(p).immutable.add(p)
}

/** Undoes {@link makeImmutable}. */
export function makeWritable(p) {
  sh('chattr', ['-i', p])
  mountOf(p).immutable.delete(p)
}

/** Remounts a tmpfs from mountTmpfs read-only (`true`) or read-write (`false`). */
export function remountReadOnly(dir, on) {
  mountOf(dir)
  sh('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, dir])
}

/** The names in `dir`, sorted. */
export function files(dir) {
  return fs.readdirSync(dir).sort()
}

/** Every path under `dir` (recursive), relative, sorted: to prove nothing was left behind. */
export function tree(dir) {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort()
}

/** True if a stderr text holds a JavaScript stack trace. */
export const hasStackTrace = (text) => /^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$/m.test(text)
