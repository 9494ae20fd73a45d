/**
 * @module The checks that matter, repeated over HTTP/2 when the server offers it.
 */
import type { CheckDefinition } from '../types.ts'

export const HTTP2_CHECKS: readonly CheckDefinition[] = []
