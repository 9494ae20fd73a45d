/**
 * @module Interruption and concurrency checks: content cut after N bytes, requests that take
 * over a running transfer, offsets that never decrease and are always usable.
 */
import type { CheckDefinition } from '../types.ts'

export const INTERRUPTION_CHECKS: readonly CheckDefinition[] = []
