/** @internal The addon, loaded by the generated napi-rs loader. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const addon: typeof import('../native/index.js') = require('../native/index.js')

/** @internal A store of either tier, as the addon exposes it. */
export type NativeStore = import('../native/index.js').NativeStore
