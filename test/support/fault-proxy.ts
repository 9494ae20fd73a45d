export * from '../../src/proxy/fault-proxy.ts'
