// The direct side of the `s3` scenario: the same file uploaded straight to the S3 gateway with
// the AWS SDK's multipart upload, no Ferry in between. Two modes:
// - `lib-storage`: @aws-sdk/lib-storage `Upload` (the SDK's managed multipart upload) with the
//   given part size and queueSize (parts in flight at once);
// - `sequential`: CreateMultipartUpload, then UploadPart one part at a time in order (each part
//   read from the file into one reused buffer), then CompleteMultipartUpload — what Ferry's S3
//   store does, minus the protocol and the manifest.
// Usage: node s3-direct.mjs <endpoint> <bucket> <key> <file> <size> <partSize> <mode> [queueSize]
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Reports over IPC: its own timing
// (first request to the completed object) and resource usage.
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'

const report = (message) => process.send?.(message, () => process.exit(0))
const [endpoint, bucket, key, file, sizeArg, partArg, mode, queueArg = '4'] = process.argv.slice(2)
const size = Number(sizeArg)
const partSize = Number(partArg)
const client = new S3Client({
  endpoint,
  region: process.env.AWS_REGION ?? 'us-east-1',
  // Ceph RGW: path-style addressing; streamed bodies with the SDK's default checksums get 411
  // (env.md §2b), so checksums only where an operation requires them — as Ferry's store does.
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
})

async function libStorage() {
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: createReadStream(file, { highWaterMark: 1 << 20 }) },
    partSize,
    queueSize: Number(queueArg),
    leavePartsOnError: false,
  })
  await upload.done()
  return Math.ceil(size / partSize) + 2
}

async function sequential() {
  // AWS S3 API: CreateMultipartUpload, UploadPart (parts 1..n, each but the last ≥ 5 MiB),
  // CompleteMultipartUpload with the parts' numbers and ETags.
  const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }))
  const uploadId = created.UploadId
  const fh = await open(file, 'r')
  const buffer = Buffer.allocUnsafe(partSize)
  const parts = []
  try {
    for (let offset = 0, n = 1; offset < size; offset += partSize, n++) {
      const length = Math.min(partSize, size - offset)
      let got = 0
      while (got < length) {
        const { bytesRead } = await fh.read(buffer, got, length - got, offset + got)
        if (bytesRead === 0) throw new Error(`${file}: ended at ${offset + got}`)
        got += bytesRead
      }
      const out = await client.send(
        new UploadPartCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: n,
          Body: buffer.subarray(0, length),
          ContentLength: length,
        }),
      )
      parts.push({ PartNumber: n, ETag: out.ETag })
    }
  } finally {
    await fh.close()
  }
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: parts },
    }),
  )
  return parts.length + 2
}

const t0 = performance.now()
try {
  const requests = mode === 'sequential' ? await sequential() : await libStorage()
  const seconds = (performance.now() - t0) / 1000
  const usage = process.resourceUsage()
  report({
    ok: true,
    seconds,
    requests,
    maxRssMb: usage.maxRSS / 1024,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
  })
} catch (e) {
  report({ ok: false, error: `${e?.name ?? 'Error'}: ${String(e?.message ?? e)}` })
} finally {
  client.destroy()
}
