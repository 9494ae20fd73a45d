// @tus/server 2.x with @tus/file-store, as its README sets it up. Usage: node tus-server.mjs <port> <dir>
import http from 'node:http'
import { FileStore } from '@tus/file-store'
import { Server } from '@tus/server'

const [port = '0', dir = '/tmp'] = process.argv.slice(2)
const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) })
const server = http.createServer((req, res) => tus.handle(req, res))
server.listen(Number(port), '127.0.0.1', () => process.send?.({ port: server.address().port }))
