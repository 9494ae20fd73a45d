/**
 * @module The S3 service of the S3 store tests: the shared test gateway of
 * test/support/services.ts (Ceph RADOS Gateway). It fails, never skips, when the gateway is
 * missing: that module throws with what to install.
 */
import { type S3Service, s3Service } from '../support/services.ts'

export type { S3Service }

/** The gateway of this test run (started once per process when the run has none). */
export function s3(): Promise<S3Service> {
  return s3Service()
}
