import { describeStore } from '../testing/store-suite.ts'
import { createMemoryStore } from './memory.ts'

describeStore('memory', { create: () => createMemoryStore() })
