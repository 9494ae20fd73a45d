/**
 * @module Test kit for people who build on Ferry: the shared store contract suite.
 */
export { describeStore, type StoreFactory } from './store-suite.ts'
