/** @module Test support: the raw HTTP/1.1 client lives in src/check (ferry check uses it too). */
export * from '../../src/check/raw-http.ts'
