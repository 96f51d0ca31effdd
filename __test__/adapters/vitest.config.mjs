// keyv's own compliance suite (@keyv/test-suite) runs under vitest, apart from ava:
// `npm run test:keyv`.
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    root: new URL('.', import.meta.url).pathname,
    include: ['keyv.suite.mjs'],
    pool: 'forks',
    testTimeout: 20_000,
  },
})
