/**
 * @module Test kit for people who build on Ferry: the shared store and locker contract suites.
 */

export { describeLocker, type LockerFactory } from './locker-suite.ts'
export { describeStore, type StoreFactory } from './store-suite.ts'
