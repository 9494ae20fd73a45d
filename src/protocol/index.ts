/**
 * @module `ferry/protocol`: the pure protocol core — constants, header codecs, the error class,
 * the interop-version table, classification, rules and rendering. No I/O.
 */
export * from './classify.ts'
export * from './codec/content-disposition.ts'
export * from './codec/structured-fields.ts'
export * from './codec/tus.ts'
export * from './constants.ts'
export * from './errors.ts'
export * from './ietf-versions.ts'
export * from './render.ts'
export * from './rules.ts'
export type * from './types.ts'
