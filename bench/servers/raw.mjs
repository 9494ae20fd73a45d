// The practical limit: a bare node:http server that writes each request body to a file with
// 1 MiB stream buffers (no protocol, no fsync). Usage: node raw.mjs <port> <dir>
import { createWriteStream } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'

const [port = '0', dir = '/tmp'] = process.argv.slice(2)
let n = 0
const server = http.createServer({ requestTimeout: 0 }, async (req, res) => {
  try {
    await pipeline(
      req,
      createWriteStream(join(dir, `raw-${process.pid}-${n++}`), { highWaterMark: 1024 * 1024 }),
    )
    res.writeHead(204).end()
  } catch {
    res.writeHead(500).end()
  }
})
server.listen(Number(port), '127.0.0.1', () => process.send?.({ port: server.address().port }))
