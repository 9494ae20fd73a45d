/**
 * @module The Fetch API adapter: `(request: Request) => Promise<Response>`, to mount the upload
 * handler in Hono, Next.js route handlers, Bun.serve, Deno.serve and other Fetch runtimes.
 * Fetch has no interim responses, so no 104s are sent (draft-13 §4.2.2 allows that: "unless
 * the server is not capable of sending interim responses"); clients then learn the upload URL
 * from the 201 (careful creation, draft-13 §10.2).
 *
 * @example
 * const handler = createUploadHandler({ store: createDiskStore({ directory: './data' }) })
 * export const { POST, HEAD, GET, PATCH, DELETE, OPTIONS } = routeHandlers(toFetchHandler(handler))
 */
import type { HandlerResponse, UploadHandler } from '../server/handler.ts'

/** Wraps the handler as a Fetch handler. The returned function needs no `this`. */
export function toFetchHandler(handler: UploadHandler): (request: Request) => Promise<Response> {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const headers: Record<string, string> = {}
    request.headers.forEach((value, name) => {
      headers[name] = value
    })
    const hasBody = request.body !== null && headers['content-length'] !== '0'
    const response = await handler.handle({
      method: request.method,
      url: url.pathname + url.search,
      headers,
      body: hasBody ? iterate(request.body) : null,
      streamedBody: hasBody && headers['content-length'] === undefined,
      signal: request.signal,
      origin: { protocol: url.protocol === 'https:' ? 'https' : 'http', host: url.host },
    })
    return toResponse(response, request.method)
  }
}

/** One export per method, for frameworks that route by exported names (Next.js). */
export function routeHandlers(
  fetchHandler: (request: Request) => Promise<Response>,
): Record<
  'POST' | 'HEAD' | 'GET' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'PUT',
  (request: Request) => Promise<Response>
> {
  return {
    POST: fetchHandler,
    HEAD: fetchHandler,
    GET: fetchHandler,
    PATCH: fetchHandler,
    DELETE: fetchHandler,
    OPTIONS: fetchHandler,
    PUT: fetchHandler,
  }
}

async function* iterate(body: ReadableStream<Uint8Array> | null): AsyncGenerator<Uint8Array> {
  if (body === null) return
  const reader = body.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}

function toResponse(response: HandlerResponse, method: string): Response {
  const status = response.status
  const noBody = method.toUpperCase() === 'HEAD' || status === 204 || status === 304
  let body: ConstructorParameters<typeof Response>[0] = null
  if (!noBody && response.body !== undefined) {
    const b = response.body
    if (typeof b === 'string' || b instanceof Uint8Array) body = b
    else {
      const it = b[Symbol.asyncIterator]()
      body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await it.next()
          if (done === true) controller.close()
          else controller.enqueue(value)
        },
        async cancel() {
          await it.return?.()
        },
      })
    }
  }
  return new Response(body, { status, headers: response.headers })
}
