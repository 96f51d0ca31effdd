import { describe, fromNative, invalidArg } from './errors.js'
import { addon, type NativeStore } from './native.js'

/**
 * A store shared with the other threads of this process, made by
 * {@link NativeBackend.share}. Plain data: pass it in `workerData` or `postMessage`
 * and attach with {@link MemoryBackend.attach} or {@link SledBackend.attach} in the
 * other thread. It is useless in another process, and once the store's owner closes
 * it attaching fails with `ERR_STATEKIT_CLOSED`.
 */
export interface SharedStoreDescriptor {
  /** Marks the object as a statekit shared-store descriptor. */
  readonly kind: 'statekit.shared-store'
  /** The tier of the shared store. */
  readonly tier: 'memory' | 'sled'
  /** The store's id within its process. */
  readonly id: number
  /** The store's random token (16 hexadecimal digits): a descriptor cannot be guessed. */
  readonly token: string
  /** The process that shared the store. */
  readonly pid: number
}

const KIND = 'statekit.shared-store'

/** @internal The descriptor of a native store's sharing. */
export function describeShared(native: NativeStore): SharedStoreDescriptor {
  try {
    const d = native.share()
    return { kind: KIND, tier: d.tier as 'memory' | 'sled', id: d.id, token: d.token, pid: process.pid }
  } catch (e) {
    throw fromNative(e)
  }
}

/**
 * @internal Attaches to the native store `descriptor` names, which must be of `tier`:
 * `ERR_STATEKIT_INVALID_ARG` for anything that is not a descriptor of this process,
 * `ERR_STATEKIT_CLOSED` once its owner closed the store.
 */
export function attachNative(descriptor: unknown, tier: 'memory' | 'sled'): NativeStore {
  if (descriptor === null || typeof descriptor !== 'object') {
    throw invalidArg(`a shared-store descriptor must be an object from share(), got ${describe(descriptor)}`)
  }
  const d = descriptor as Record<string, unknown>
  if (d.kind !== KIND) {
    throw invalidArg(`not a shared-store descriptor (its kind is ${describe(d.kind)}, not '${KIND}')`)
  }
  if (d.pid !== process.pid) {
    throw invalidArg(
      `this descriptor shares a store of process ${describe(d.pid)}; stores are shared only between the threads of one process (this is ${process.pid})`,
    )
  }
  if (d.tier !== tier) {
    throw invalidArg(`this descriptor shares a ${describe(d.tier)} store; attach it with the backend of that tier, not the ${tier} one`)
  }
  if (typeof d.id !== 'number' || typeof d.token !== 'string') {
    throw invalidArg(`a shared-store descriptor needs a numeric id and a string token, got ${describe(d.id)} and ${describe(d.token)}`)
  }
  try {
    return addon.NativeStore.attach({ id: d.id, token: d.token, tier })
  } catch (e) {
    throw fromNative(e)
  }
}
