// Writes docs/errors.md from the error table (npm run docs:errors). A test checks it is current.
import { writeFileSync } from 'node:fs'
import { ERROR_CODES } from '../src/protocol/errors.ts'

export function errorsDoc(): string {
  const rows = Object.entries(ERROR_CODES).map(([code, spec]) => {
    const problem =
      'problemType' in spec ? ` (problem type \`${spec.problemType.split('#')[1]}\`)` : ''
    return `| \`${code}\` | ${spec.status} | ${spec.message}${problem} |`
  })
  return `# Error codes

Every rejection Ferry sends, and every failure a store or hook reports, is an \`UploadError\` with
one of these stable codes (\`import { isUploadError } from 'ferry/protocol'\`; match on
\`err.code\`). tus clients get the message as \`text/plain\`; IETF draft clients get RFC 9457
problem details (\`application/problem+json\`) with \`type\`, \`title\`, \`status\`, \`detail\` and
\`code\`, plus \`expected-offset\`/\`provided-offset\` for offset mismatches. Some statuses depend
on the protocol version (e.g. an append to a completed upload is 400 up to draft -08 and 410
for an empty one in -09..-11); the table gives the default.

Unknown internal failures are answered with \`ERR_INTERNAL\` and a generic message; the detail
goes to the logger only.

| Code | Status | Meaning |
|---|---:|---|
${rows.join('\n')}

This file is generated from \`src/protocol/errors.ts\` by \`node --import tsx scripts/gen-errors-doc.ts\`.
`
}

if (process.argv[1]?.endsWith('gen-errors-doc.ts')) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsDoc())
}
