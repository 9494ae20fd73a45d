// Ferry from the compiled package (run `npm run build` first), on the disk store with its
// default durability (fsync before acknowledging), over HTTP/1.1 or h2c.
// Usage: node ferry.mjs <port> <dir> [durability] [http1|h2c]
import { createNodeServer } from '../../dist/adapters/node.js'
import { createUploadHandler } from '../../dist/server/handler.js'
import { createDiskStore } from '../../dist/stores/disk/index.js'

const [port = '0', dir = '/tmp', durability = 'fsync', transport = 'http1'] = process.argv.slice(2)
const handler = createUploadHandler({
  store: createDiskStore({ directory: dir, durability }),
  expireAfterMs: null,
})
const server = createNodeServer({ handler, ...(transport === 'h2c' ? { h2c: true } : {}) })
const address = await server.listen(Number(port), '127.0.0.1')
process.send?.({ port: address.port })
