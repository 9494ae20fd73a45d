/**
 * @module `ferry/client`: resumable uploads from browsers and Node — tus 1.0.0 and the IETF
 * draft "Resumable Uploads for HTTP" (interop 3..10), chosen per server. No `node:` imports
 * here: Node-only parts (the node:http transport that sees 104s, file sources, a file storage)
 * are in `ferry/client/node`.
 */

export {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumField,
  createHasher,
  DIGEST_ALGORITHMS,
  type DigestAlgorithm,
  digestField,
  type HashAlgorithm,
  type Hasher,
  type HasherFactory,
  hash,
} from './hash.ts'
export {
  type Effect,
  type Failure,
  type FailureCode,
  type Integrity,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineResult,
  type MachineState,
  next,
  type ProtocolChoice,
  type RequestSpec,
  type Step,
  type Transition,
} from './machine.ts'
export { MAX_PARALLEL, splitParts } from './parallel.ts'
export {
  type Concat,
  type Discovery,
  type Limits,
  type Protocol,
  parseProtocolName,
  protocolName,
  type ResponseHead,
} from './protocols.ts'
export {
  blobSource,
  bytesSource,
  SourceError,
  type StreamSourceOptions,
  streamSource,
  toSource,
  type UploadInput,
  type UploadSource,
} from './sources.ts'
export {
  isExpired,
  type LocalStorageOptions,
  localStorageStorage,
  memoryStorage,
  type StoredUpload,
  type UrlStorage,
  type WebStorageLike,
} from './storage.ts'
export {
  type FetchTransportOptions,
  fetchTransport,
  type RequestBody,
  type Transport,
  type TransportRequest,
} from './transport.ts'
export {
  clearDiscoveryCache,
  type HeaderProvider,
  type PartInfo,
  type Progress,
  type RequestEnd,
  type RequestInfo,
  type RetryInfo,
  type Upload,
  UploadError,
  type UploadErrorCode,
  type UploadEvents,
  type UploadOptions,
  type UploadResult,
  type UploadStatus,
  upload,
} from './upload.ts'
export { defaultTransport, type XhrLike, type XhrTransportOptions, xhrTransport } from './xhr.ts'
