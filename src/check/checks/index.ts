/** @module Every check `ferry check` knows, in the order they run. */
import type { CheckDefinition } from '../types.ts'
import { HTTP2_CHECKS } from './http2.ts'
import { IETF_CHECKS } from './ietf.ts'
import { INTERRUPTION_CHECKS } from './interruption.ts'
import { TUS_CHECKS } from './tus.ts'

export const ALL_CHECKS: readonly CheckDefinition[] = [
  ...TUS_CHECKS,
  ...IETF_CHECKS,
  ...INTERRUPTION_CHECKS,
  ...HTTP2_CHECKS,
]
