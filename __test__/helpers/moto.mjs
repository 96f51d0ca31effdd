// A real S3-compatible server for the tests: moto's server, from the virtual
// environment scripts/moto.mjs creates (npm test's pretest step runs it), on loopback
// at a free port. One server per test file; each test uses its own bucket. When the
// server cannot be started, the tests that need it FAIL with the reason: never skipped.
import { randomBytes } from 'node:crypto'
import { S3Client, CreateBucketCommand } from '@aws-sdk/client-s3'
import { startMoto } from '../../scripts/moto-server.mjs'

export const credentials = { accessKeyId: 'statekit-test', secretAccessKey: 'statekit-test-secret' }
export const region = 'us-east-1'

// The SDK warns once per process about its future Node versions; the tests do not need it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'

/**
 * Registers a moto server for this test file. Returns a handle whose `endpoint`,
 * `client` and `bucket(t)` (a fresh bucket for one test) are ready inside tests.
 */
export function useMoto(test) {
  const h = {
    endpoint: undefined,
    client: undefined,
    error: undefined,
    child: undefined,
    /** A fresh, empty bucket for one test. */
    async bucket(t) {
      if (h.error) t.fail(`moto's S3 server could not be started, so this S3 test cannot run: ${h.error.message}`)
      if (!h.endpoint) throw h.error ?? new Error('moto is not running')
      const name = `t-${randomBytes(6).toString('hex')}`
      await h.client.send(new CreateBucketCommand({ Bucket: name }))
      return name
    },
    /** Options for s3Storage() against this server. */
    options(bucket, prefix, extra = {}) {
      return { bucket, prefix, endpoint: h.endpoint, region, credentials, forcePathStyle: true, ...extra }
    },
    /** The environment a child process (the CLI, a fixture) needs to reach the server. */
    env() {
      return { ...process.env, AWS_ENDPOINT_URL: h.endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
    },
  }
  test.before(async () => {
    try {
      const { child, endpoint } = await startMoto()
      h.child = child
      h.endpoint = endpoint
      h.client = new S3Client({ endpoint, region, credentials, forcePathStyle: true })
      // A clean server: nothing from an earlier run.
      const r = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' })
      if (!r.ok) throw new Error(`POST /moto-api/reset answered ${r.status}`)
    } catch (e) {
      h.error = e
    }
  })
  test.after.always(() => {
    h.client?.destroy()
    h.child?.kill('SIGKILL')
  })
  return h
}
