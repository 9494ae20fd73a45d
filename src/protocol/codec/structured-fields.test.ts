/** @module Tests for the RFC 9651 Structured Field Values codec (table-driven). */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type {
  BareItem,
  Dictionary,
  Item,
  List,
  ListMember,
  Parameters,
} from './structured-fields.ts'
import {
  binary,
  boolean,
  decodeBase64,
  encodeBase64,
  integer,
  item,
  parseBooleanField,
  parseDictionary,
  parseIntegerField,
  parseItem,
  parseList,
  parseNonNegativeIntegerField,
  serializeBareItem,
  serializeDictionary,
  serializeItem,
  serializeList,
  string,
  token,
} from './structured-fields.ts'

// Cases use the JSON format of httpwg/structured-field-tests (see its README): Items are
// [bare, params], Inner Lists [[items], params], Dictionaries [[key, member], ...], Parameters
// [[key, bare], ...], tokens/dates/display strings/binary (base32) are {__type, value} objects.
// One deviation: JSON cannot tell 1.0 from 1 here, so Decimals are {__type: 'decimal', value}.

type HeaderType = 'item' | 'list' | 'dictionary'

interface SuiteCase {
  name: string
  raw?: string[]
  header_type: HeaderType
  expected?: unknown
  must_fail?: boolean
  /** A SHOULD in the RFC; Ferry follows it, so these cases must parse as expected. */
  can_fail?: boolean
  canonical?: string[]
}

type Parsed = Item | List | Dictionary

// Base32 (RFC 4648 §6), the suite's encoding of binary values: an oracle independent of base64.
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function base32Encode(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let buffer = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32.charAt((buffer >> (bits - 5)) & 31)
      bits -= 5
    }
  }
  if (bits > 0) out += BASE32.charAt((buffer << (5 - bits)) & 31)
  while (out.length % 8 !== 0) out += '='
  return out
}

function base32Decode(text: string): Uint8Array {
  const out: number[] = []
  let bits = 0
  let buffer = 0
  for (const ch of text.replace(/=+$/, '')) {
    const value = BASE32.indexOf(ch)
    assert.ok(value >= 0, `bad base32 in test data: ${text}`)
    buffer = ((buffer << 5) | value) & 0xffff
    bits += 5
    if (bits >= 8) {
      out.push((buffer >> (bits - 8)) & 255)
      bits -= 8
    }
  }
  return new Uint8Array(out)
}

function toSuiteBare(bare: BareItem): unknown {
  switch (bare.type) {
    case 'integer':
    case 'string':
    case 'boolean':
      return bare.value
    case 'binary':
      return { __type: 'binary', value: base32Encode(bare.value) }
    case 'decimal':
    case 'token':
    case 'date':
    case 'displaystring':
      return { __type: bare.type, value: bare.value }
  }
}

function toSuiteParams(params: Parameters): unknown {
  return [...params].map(([key, value]) => [key, toSuiteBare(value)])
}

function toSuiteMember(member: ListMember): unknown {
  if (member.kind === 'innerlist') {
    return [member.items.map(toSuiteMember), toSuiteParams(member.params)]
  }
  return [toSuiteBare(member.value), toSuiteParams(member.params)]
}

function toSuite(type: HeaderType, parsed: Parsed): unknown {
  if (type === 'item') return toSuiteMember(parsed as Item)
  if (type === 'list') return (parsed as List).map(toSuiteMember)
  return [...(parsed as Dictionary)].map(([key, member]) => [key, toSuiteMember(member)])
}

function fromSuiteBare(value: unknown): BareItem {
  if (typeof value === 'number') return { type: 'integer', value }
  if (typeof value === 'string') return { type: 'string', value }
  if (typeof value === 'boolean') return { type: 'boolean', value }
  const tagged = value as { __type: string; value: string | number }
  switch (tagged.__type) {
    case 'decimal':
      return { type: 'decimal', value: tagged.value as number }
    case 'date':
      return { type: 'date', value: tagged.value as number }
    case 'token':
      return { type: 'token', value: tagged.value as string }
    case 'displaystring':
      return { type: 'displaystring', value: tagged.value as string }
    case 'binary':
      return { type: 'binary', value: base32Decode(tagged.value as string) }
    default:
      throw new Error(`unknown __type in test data: ${tagged.__type}`)
  }
}

function fromSuiteParams(value: unknown): Parameters {
  return new Map((value as [string, unknown][]).map(([key, bare]) => [key, fromSuiteBare(bare)]))
}

function fromSuiteMember(value: unknown): ListMember {
  const [first, params] = value as [unknown, unknown]
  if (Array.isArray(first)) {
    return {
      kind: 'innerlist',
      items: first.map((member) => fromSuiteMember(member) as Item),
      params: fromSuiteParams(params),
    }
  }
  return { kind: 'item', value: fromSuiteBare(first), params: fromSuiteParams(params) }
}

function fromSuite(type: HeaderType, expected: unknown): Parsed {
  if (type === 'item') return fromSuiteMember(expected) as Item
  if (type === 'list') return (expected as unknown[]).map(fromSuiteMember)
  return new Map(
    (expected as [string, unknown][]).map(([key, member]) => [key, fromSuiteMember(member)]),
  )
}

function parseAs(type: HeaderType, input: string): Parsed | undefined {
  if (type === 'item') return parseItem(input)
  if (type === 'list') return parseList(input)
  return parseDictionary(input)
}

function serializeAs(type: HeaderType, value: Parsed): string {
  if (type === 'item') return serializeItem(value as Item)
  if (type === 'list') return serializeList(value as List)
  return serializeDictionary(value as Dictionary)
}

/**
 * Runs one case: multiple field lines are combined with ", " (RFC 9651 §4.2); a parse must match
 * `expected`; serializing `expected` and the parse result must both give the canonical form.
 * Cases without `raw` are serialization-only (the suite's serialisation-tests).
 */
function runSuiteCase(c: SuiteCase): void {
  const label = `[${c.header_type}] ${c.name}`
  if (c.raw !== undefined) {
    const input = c.raw.join(', ')
    const parsed = parseAs(c.header_type, input)
    if (c.must_fail === true) {
      assert.equal(parsed, undefined, `${label}: ${JSON.stringify(input)} must fail to parse`)
      return
    }
    assert.ok(parsed !== undefined, `${label}: ${JSON.stringify(input)} must parse`)
    assert.deepEqual(toSuite(c.header_type, parsed), c.expected, `${label}: parsed value`)
    const canonical = (c.canonical ?? c.raw).join(', ')
    assert.equal(serializeAs(c.header_type, parsed), canonical, `${label}: round trip`)
  }
  const value = fromSuite(c.header_type, c.expected)
  if (c.must_fail === true) {
    assert.throws(
      () => serializeAs(c.header_type, value),
      RangeError,
      `${label}: must not serialize`,
    )
    return
  }
  const canonical = (c.canonical ?? c.raw ?? []).join(', ')
  assert.equal(serializeAs(c.header_type, value), canonical, `${label}: serialization`)
}

// Test data copied from https://github.com/httpwg/structured-field-tests (commit 1e280c3,
// BSD-style licence, (c) IETF Trust and the authors): every hand-written file, verbatim except
// for the Decimal tagging described above.

const SUITE: Record<string, SuiteCase[]> = {
  'binary.json': [
    {
      name: 'basic binary',
      raw: [':aGVsbG8=:'],
      header_type: 'item',
      expected: [{ __type: 'binary', value: 'NBSWY3DP' }, []],
    },
    {
      name: 'empty binary',
      raw: ['::'],
      header_type: 'item',
      expected: [{ __type: 'binary', value: '' }, []],
    },
    { name: 'padding at beginning', raw: [':=aGVsbG8=:'], header_type: 'item', must_fail: true },
    { name: 'padding in middle', raw: [':a=GVsbG8=:'], header_type: 'item', must_fail: true },
    {
      name: 'bad padding',
      raw: [':aGVsbG8:'],
      header_type: 'item',
      expected: [{ __type: 'binary', value: 'NBSWY3DP' }, []],
      can_fail: true,
      canonical: [':aGVsbG8=:'],
    },
    { name: 'bad padding dot', raw: [':aGVsbG8.:'], header_type: 'item', must_fail: true },
    { name: 'bad end delimiter', raw: [':aGVsbG8='], header_type: 'item', must_fail: true },
    { name: 'extra whitespace', raw: [':aGVsb G8=:'], header_type: 'item', must_fail: true },
    { name: 'all whitespace', raw: [':    :'], header_type: 'item', must_fail: true },
    { name: 'extra chars', raw: [':aGVsbG!8=:'], header_type: 'item', must_fail: true },
    { name: 'suffix chars', raw: [':aGVsbG8=!:'], header_type: 'item', must_fail: true },
    {
      name: 'non-zero pad bits',
      raw: [':iZ==:'],
      header_type: 'item',
      expected: [{ __type: 'binary', value: 'RE======' }, []],
      can_fail: true,
      canonical: [':iQ==:'],
    },
    {
      name: 'non-ASCII binary',
      raw: [':/+Ah:'],
      header_type: 'item',
      expected: [{ __type: 'binary', value: '77QCC===' }, []],
    },
    { name: 'base64url binary', raw: [':_-Ah:'], header_type: 'item', must_fail: true },
    { name: 'binary prefix only', raw: [':'], header_type: 'item', must_fail: true },
  ],
  'boolean.json': [
    { name: 'basic true boolean', raw: ['?1'], header_type: 'item', expected: [true, []] },
    { name: 'basic false boolean', raw: ['?0'], header_type: 'item', expected: [false, []] },
    { name: 'unknown boolean', raw: ['?Q'], header_type: 'item', must_fail: true },
    { name: 'whitespace boolean', raw: ['? 1'], header_type: 'item', must_fail: true },
    { name: 'negative zero boolean', raw: ['?-0'], header_type: 'item', must_fail: true },
    { name: 'T boolean', raw: ['?T'], header_type: 'item', must_fail: true },
    { name: 'F boolean', raw: ['?F'], header_type: 'item', must_fail: true },
    { name: 't boolean', raw: ['?t'], header_type: 'item', must_fail: true },
    { name: 'f boolean', raw: ['?f'], header_type: 'item', must_fail: true },
    { name: 'spelled-out True boolean', raw: ['?True'], header_type: 'item', must_fail: true },
    { name: 'spelled-out False boolean', raw: ['?False'], header_type: 'item', must_fail: true },
    { name: 'boolean prefix only', raw: ['?'], header_type: 'item', must_fail: true },
  ],
  'date.json': [
    {
      name: 'date - 1970-01-01 00:00:00',
      raw: ['@0'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 0 }, []],
    },
    {
      name: 'date - 2022-08-04 01:57:13',
      raw: ['@1659578233'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 1659578233 }, []],
    },
    {
      name: 'date - 1917-05-30 22:02:47',
      raw: ['@-1659578233'],
      header_type: 'item',
      expected: [{ __type: 'date', value: -1659578233 }, []],
    },
    {
      name: 'date - 2^31',
      raw: ['@2147483648'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 2147483648 }, []],
    },
    {
      name: 'date - 2^32',
      raw: ['@4294967296'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 4294967296 }, []],
    },
    {
      name: 'interoperability max date - 9999-12-31 00:00:00',
      raw: ['@253402214400'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 253402214400 }, []],
    },
    {
      name: 'interoperability min date - 0001-01-01 00:00:00',
      raw: ['@-62135596800'],
      header_type: 'item',
      expected: [{ __type: 'date', value: -62135596800 }, []],
    },
    { name: 'date - decimal', raw: ['@1659578233.12'], header_type: 'item', must_fail: true },
    {
      name: 'syntactic max date - 999,999,999,999,999',
      raw: ['@999999999999999'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 999999999999999 }, []],
      can_fail: true,
    },
    {
      name: 'syntactic min date - -999,999,999,999,999',
      raw: ['@-999999999999999'],
      header_type: 'item',
      expected: [{ __type: 'date', value: -999999999999999 }, []],
      can_fail: true,
    },
    {
      name: 'too large syntactic date - 1,000,000,000,000,000',
      raw: ['@1000000000000000'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'too small syntactic date - -1,000,000,000,000,000',
      raw: ['@-1000000000000000'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'date with negative zero',
      raw: ['@-0'],
      header_type: 'item',
      expected: [{ __type: 'date', value: 0 }, []],
      canonical: ['@0'],
    },
    { name: 'date - empty', raw: ['@'], header_type: 'item', must_fail: true },
    { name: 'date - sign only', raw: ['@-'], header_type: 'item', must_fail: true },
    { name: 'date - space', raw: ['@ 12345678'], header_type: 'item', must_fail: true },
    { name: 'date - non-digit', raw: ['@abc'], header_type: 'item', must_fail: true },
  ],
  'dictionary.json': [
    {
      name: 'basic dictionary',
      raw: ['en="Applepie", da=:w4ZibGV0w6ZydGUK:'],
      header_type: 'dictionary',
      expected: [
        ['en', ['Applepie', []]],
        ['da', [{ __type: 'binary', value: 'YODGE3DFOTB2M4TUMUFA====' }, []]],
      ],
    },
    { name: 'empty dictionary', raw: [''], header_type: 'dictionary', expected: [], canonical: [] },
    {
      name: 'single item dictionary',
      raw: ['a=1'],
      header_type: 'dictionary',
      expected: [['a', [1, []]]],
    },
    {
      name: 'list item dictionary',
      raw: ['a=(1 2)'],
      header_type: 'dictionary',
      expected: [
        [
          'a',
          [
            [
              [1, []],
              [2, []],
            ],
            [],
          ],
        ],
      ],
    },
    {
      name: 'single list item dictionary',
      raw: ['a=(1)'],
      header_type: 'dictionary',
      expected: [['a', [[[1, []]], []]]],
    },
    {
      name: 'empty list item dictionary',
      raw: ['a=()'],
      header_type: 'dictionary',
      expected: [['a', [[], []]]],
    },
    {
      name: 'no whitespace dictionary',
      raw: ['a=1,b=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=1, b=2'],
    },
    {
      name: 'extra whitespace dictionary',
      raw: ['a=1 ,  b=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=1, b=2'],
    },
    {
      name: 'tab separated dictionary',
      raw: ['a=1\t,\tb=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=1, b=2'],
    },
    {
      name: 'leading whitespace dictionary',
      raw: ['     a=1 ,  b=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=1, b=2'],
    },
    {
      name: 'whitespace before = dictionary',
      raw: ['a =1, b=2'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'whitespace after = dictionary',
      raw: ['a=1, b= 2'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'two lines dictionary',
      raw: ['a=1', 'b=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=1, b=2'],
    },
    {
      name: 'missing value dictionary',
      raw: ['a=1, b, c=3'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [true, []]],
        ['c', [3, []]],
      ],
    },
    {
      name: 'all missing value dictionary',
      raw: ['a, b, c'],
      header_type: 'dictionary',
      expected: [
        ['a', [true, []]],
        ['b', [true, []]],
        ['c', [true, []]],
      ],
    },
    {
      name: 'start missing value dictionary',
      raw: ['a, b=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [true, []]],
        ['b', [2, []]],
      ],
    },
    {
      name: 'end missing value dictionary',
      raw: ['a=1, b'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [true, []]],
      ],
    },
    {
      name: 'missing value with params dictionary',
      raw: ['a=1, b;foo=9, c=3'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [true, [['foo', 9]]]],
        ['c', [3, []]],
      ],
    },
    {
      name: 'explicit true value with params dictionary',
      raw: ['a=1, b=?1;foo=9, c=3'],
      header_type: 'dictionary',
      expected: [
        ['a', [1, []]],
        ['b', [true, [['foo', 9]]]],
        ['c', [3, []]],
      ],
      canonical: ['a=1, b;foo=9, c=3'],
    },
    {
      name: 'trailing comma dictionary',
      raw: ['a=1, b=2,'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'empty item dictionary',
      raw: ['a=1,,b=2,'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'duplicate key dictionary',
      raw: ['a=1,b=2,a=3'],
      header_type: 'dictionary',
      expected: [
        ['a', [3, []]],
        ['b', [2, []]],
      ],
      canonical: ['a=3, b=2'],
    },
    {
      name: 'dictionary key ordering',
      raw: ['m, z, t'],
      header_type: 'dictionary',
      expected: [
        ['m', [true, []]],
        ['z', [true, []]],
        ['t', [true, []]],
      ],
    },
    {
      name: 'numeric key dictionary',
      raw: ['a=1,1b=2,a=1'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'uppercase key dictionary',
      raw: ['a=1,B=2,a=1'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'bad key dictionary',
      raw: ['a=1,b!=2,a=1'],
      header_type: 'dictionary',
      must_fail: true,
    },
  ],
  'display-string.json': [
    {
      name: 'basic display string (ascii content)',
      raw: ['%"foo bar"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'foo bar' }, []],
    },
    {
      name: 'all printable ascii',
      raw: [
        '%" !%22#$%25&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"',
      ],
      header_type: 'item',
      expected: [
        {
          __type: 'displaystring',
          value:
            ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~',
        },
        [],
      ],
    },
    {
      name: 'non-ascii display string (uppercase escaping)',
      raw: ['%"f%C3%BC%C3%BC"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'non-ascii display string (lowercase escaping)',
      raw: ['%"f%c3%bc%c3%bc"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'f\u00fc\u00fc' }, []],
    },
    {
      name: 'non-ascii display string (unescaped)',
      raw: ['%"f\u00fc\u00fc"'],
      header_type: 'item',
      must_fail: true,
    },
    { name: 'tab in display string', raw: ['%"\t"'], header_type: 'item', must_fail: true },
    { name: 'newline in display string', raw: ['%"\n"'], header_type: 'item', must_fail: true },
    { name: 'single quoted display string', raw: ["%'foo'"], header_type: 'item', must_fail: true },
    { name: 'unquoted display string', raw: ['%foo'], header_type: 'item', must_fail: true },
    {
      name: 'display string missing initial quote',
      raw: ['%foo"'],
      header_type: 'item',
      must_fail: true,
    },
    { name: 'unbalanced display string', raw: ['%"foo'], header_type: 'item', must_fail: true },
    {
      name: 'display string quoting',
      raw: ['%"foo %22bar%22 \\ baz"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'foo "bar" \\ baz' }, []],
    },
    {
      name: 'bad display string escaping',
      raw: ['%"foo %a'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'bad display string utf-8 (invalid 2-byte seq)',
      raw: ['%"%c3%28"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'bad display string utf-8 (invalid sequence id)',
      raw: ['%"%a0%a1"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'bad display string utf-8 (invalid hex)',
      raw: ['%"%g0%1w"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'bad display string utf-8 (invalid 3-byte seq)',
      raw: ['%"%e2%28%a1"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'bad display string utf-8 (invalid 4-byte seq)',
      raw: ['%"%f0%28%8c%28"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'BOM in display string',
      raw: ['%"BOM: %ef%bb%bf"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'BOM: \ufeff' }, []],
    },
    {
      name: 'two lines display string',
      raw: ['%"foo', 'bar"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'foo, bar' }, []],
      can_fail: true,
      canonical: ['%"foo, bar"'],
    },
    {
      name: 'truncated display string escape (zero digits)',
      raw: ['%"%"'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'over-encoded display string',
      raw: ['%"%61"'],
      header_type: 'item',
      expected: [{ __type: 'displaystring', value: 'a' }, []],
      canonical: ['%"a"'],
    },
  ],
  'examples.json': [
    {
      name: 'Foo-Example',
      raw: ['2; foourl="https://foo.example.com/"'],
      header_type: 'item',
      expected: [2, [['foourl', 'https://foo.example.com/']]],
      canonical: ['2;foourl="https://foo.example.com/"'],
    },
    {
      name: 'Example-StrListHeader',
      raw: ['"foo", "bar", "It was the best of times."'],
      header_type: 'list',
      expected: [
        ['foo', []],
        ['bar', []],
        ['It was the best of times.', []],
      ],
    },
    {
      name: 'Example-Hdr (list on one line)',
      raw: ['foo, bar'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'foo' }, []],
        [{ __type: 'token', value: 'bar' }, []],
      ],
    },
    {
      name: 'Example-Hdr (list on two lines)',
      raw: ['foo', 'bar'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'foo' }, []],
        [{ __type: 'token', value: 'bar' }, []],
      ],
      canonical: ['foo, bar'],
    },
    {
      name: 'Example-StrListListHeader',
      raw: ['("foo" "bar"), ("baz"), ("bat" "one"), ()'],
      header_type: 'list',
      expected: [
        [
          [
            ['foo', []],
            ['bar', []],
          ],
          [],
        ],
        [[['baz', []]], []],
        [
          [
            ['bat', []],
            ['one', []],
          ],
          [],
        ],
        [[], []],
      ],
    },
    {
      name: 'Example-ListListParam',
      raw: ['("foo"; a=1;b=2);lvl=5, ("bar" "baz");lvl=1'],
      header_type: 'list',
      expected: [
        [
          [
            [
              'foo',
              [
                ['a', 1],
                ['b', 2],
              ],
            ],
          ],
          [['lvl', 5]],
        ],
        [
          [
            ['bar', []],
            ['baz', []],
          ],
          [['lvl', 1]],
        ],
      ],
      canonical: ['("foo";a=1;b=2);lvl=5, ("bar" "baz");lvl=1'],
    },
    {
      name: 'Example-ParamListHeader',
      raw: ['abc;a=1;b=2; cde_456, (ghi;jk=4 l);q="9";r=w'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'abc' },
          [
            ['a', 1],
            ['b', 2],
            ['cde_456', true],
          ],
        ],
        [
          [
            [{ __type: 'token', value: 'ghi' }, [['jk', 4]]],
            [{ __type: 'token', value: 'l' }, []],
          ],
          [
            ['q', '9'],
            ['r', { __type: 'token', value: 'w' }],
          ],
        ],
      ],
      canonical: ['abc;a=1;b=2;cde_456, (ghi;jk=4 l);q="9";r=w'],
    },
    {
      name: 'Example-IntHeader',
      raw: ['1; a; b=?0'],
      header_type: 'item',
      expected: [
        1,
        [
          ['a', true],
          ['b', false],
        ],
      ],
      canonical: ['1;a;b=?0'],
    },
    {
      name: 'Example-DictHeader',
      raw: ['en="Applepie", da=:w4ZibGV0w6ZydGU=:'],
      header_type: 'dictionary',
      expected: [
        ['en', ['Applepie', []]],
        ['da', [{ __type: 'binary', value: 'YODGE3DFOTB2M4TUMU======' }, []]],
      ],
    },
    {
      name: 'Example-DictHeader (boolean values)',
      raw: ['a=?0, b, c; foo=bar'],
      header_type: 'dictionary',
      expected: [
        ['a', [false, []]],
        ['b', [true, []]],
        ['c', [true, [['foo', { __type: 'token', value: 'bar' }]]]],
      ],
      canonical: ['a=?0, b, c;foo=bar'],
    },
    {
      name: 'Example-DictListHeader',
      raw: ['rating=1.5, feelings=(joy sadness)'],
      header_type: 'dictionary',
      expected: [
        ['rating', [{ __type: 'decimal', value: 1.5 }, []]],
        [
          'feelings',
          [
            [
              [{ __type: 'token', value: 'joy' }, []],
              [{ __type: 'token', value: 'sadness' }, []],
            ],
            [],
          ],
        ],
      ],
    },
    {
      name: 'Example-MixDict',
      raw: ['a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid'],
      header_type: 'dictionary',
      expected: [
        [
          'a',
          [
            [
              [1, []],
              [2, []],
            ],
            [],
          ],
        ],
        ['b', [3, []]],
        ['c', [4, [['aa', { __type: 'token', value: 'bb' }]]]],
        [
          'd',
          [
            [
              [5, []],
              [6, []],
            ],
            [['valid', true]],
          ],
        ],
      ],
      canonical: ['a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid'],
    },
    {
      name: 'Example-Hdr (dictionary on one line)',
      raw: ['foo=1, bar=2'],
      header_type: 'dictionary',
      expected: [
        ['foo', [1, []]],
        ['bar', [2, []]],
      ],
    },
    {
      name: 'Example-Hdr (dictionary on two lines)',
      raw: ['foo=1', 'bar=2'],
      header_type: 'dictionary',
      expected: [
        ['foo', [1, []]],
        ['bar', [2, []]],
      ],
      canonical: ['foo=1, bar=2'],
    },
    { name: 'Example-IntItemHeader', raw: ['5'], header_type: 'item', expected: [5, []] },
    {
      name: 'Example-IntItemHeader (params)',
      raw: ['5; foo=bar'],
      header_type: 'item',
      expected: [5, [['foo', { __type: 'token', value: 'bar' }]]],
      canonical: ['5;foo=bar'],
    },
    { name: 'Example-IntegerHeader', raw: ['42'], header_type: 'item', expected: [42, []] },
    {
      name: 'Example-FloatHeader',
      raw: ['4.5'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 4.5 }, []],
    },
    {
      name: 'Example-StringHeader',
      raw: ['"hello world"'],
      header_type: 'item',
      expected: ['hello world', []],
    },
    {
      name: 'Example-BinaryHdr',
      raw: [':cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:'],
      header_type: 'item',
      expected: [
        { __type: 'binary', value: 'OBZGK5DFNZSCA5DINFZSA2LTEBRGS3TBOJ4SAY3PNZ2GK3TUFY======' },
        [],
      ],
    },
    { name: 'Example-BoolHdr', raw: ['?1'], header_type: 'item', expected: [true, []] },
  ],
  'item.json': [
    { name: 'empty item', raw: [''], header_type: 'item', must_fail: true },
    { name: 'leading space', raw: [' \t 1'], header_type: 'item', must_fail: true },
    { name: 'trailing space', raw: ['1 \t '], header_type: 'item', must_fail: true },
    {
      name: 'leading and trailing space',
      raw: ['  1  '],
      header_type: 'item',
      expected: [1, []],
      canonical: ['1'],
    },
    {
      name: 'leading and trailing whitespace',
      raw: ['     1  '],
      header_type: 'item',
      expected: [1, []],
      canonical: ['1'],
    },
  ],
  'list.json': [
    {
      name: 'basic list',
      raw: ['1, 42'],
      header_type: 'list',
      expected: [
        [1, []],
        [42, []],
      ],
    },
    { name: 'empty list', raw: [''], header_type: 'list', expected: [], canonical: [] },
    {
      name: 'leading SP list',
      raw: ['  42, 43'],
      header_type: 'list',
      expected: [
        [42, []],
        [43, []],
      ],
      canonical: ['42, 43'],
    },
    { name: 'single item list', raw: ['42'], header_type: 'list', expected: [[42, []]] },
    {
      name: 'no whitespace list',
      raw: ['1,42'],
      header_type: 'list',
      expected: [
        [1, []],
        [42, []],
      ],
      canonical: ['1, 42'],
    },
    {
      name: 'extra whitespace list',
      raw: ['1 , 42'],
      header_type: 'list',
      expected: [
        [1, []],
        [42, []],
      ],
      canonical: ['1, 42'],
    },
    {
      name: 'tab separated list',
      raw: ['1\t,\t42'],
      header_type: 'list',
      expected: [
        [1, []],
        [42, []],
      ],
      canonical: ['1, 42'],
    },
    {
      name: 'two line list',
      raw: ['1', '42'],
      header_type: 'list',
      expected: [
        [1, []],
        [42, []],
      ],
      canonical: ['1, 42'],
    },
    { name: 'trailing comma list', raw: ['1, 42,'], header_type: 'list', must_fail: true },
    { name: 'empty item list', raw: ['1,,42'], header_type: 'list', must_fail: true },
    {
      name: 'empty item list (multiple field lines)',
      raw: ['1', '', '42'],
      header_type: 'list',
      must_fail: true,
    },
  ],
  'listlist.json': [
    {
      name: 'basic list of lists',
      raw: ['(1 2), (42 43)'],
      header_type: 'list',
      expected: [
        [
          [
            [1, []],
            [2, []],
          ],
          [],
        ],
        [
          [
            [42, []],
            [43, []],
          ],
          [],
        ],
      ],
    },
    {
      name: 'single item list of lists',
      raw: ['(42)'],
      header_type: 'list',
      expected: [[[[42, []]], []]],
    },
    { name: 'empty item list of lists', raw: ['()'], header_type: 'list', expected: [[[], []]] },
    {
      name: 'empty middle item list of lists',
      raw: ['(1),(),(42)'],
      header_type: 'list',
      expected: [
        [[[1, []]], []],
        [[], []],
        [[[42, []]], []],
      ],
      canonical: ['(1), (), (42)'],
    },
    {
      name: 'extra whitespace list of lists',
      raw: ['(  1  42  )'],
      header_type: 'list',
      expected: [
        [
          [
            [1, []],
            [42, []],
          ],
          [],
        ],
      ],
      canonical: ['(1 42)'],
    },
    {
      name: 'wrong whitespace list of lists',
      raw: ['(1\t 42)'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'no trailing parenthesis list of lists',
      raw: ['(1 42'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'no trailing parenthesis middle list of lists',
      raw: ['(1 2, (42 43)'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'no spaces in inner-list',
      raw: ['(abc"def"?0123*dXZ3*xyz)'],
      header_type: 'list',
      must_fail: true,
    },
    { name: 'no closing parenthesis', raw: ['('], header_type: 'list', must_fail: true },
    { name: 'nested inner lists', raw: ['((1))'], header_type: 'list', must_fail: true },
    { name: 'dictionary in inner list', raw: ['(a=1)'], header_type: 'list', must_fail: true },
  ],
  'number.json': [
    { name: 'basic integer', raw: ['42'], header_type: 'item', expected: [42, []] },
    { name: 'zero integer', raw: ['0'], header_type: 'item', expected: [0, []] },
    {
      name: 'negative zero',
      raw: ['-0'],
      header_type: 'item',
      expected: [0, []],
      canonical: ['0'],
    },
    { name: 'double negative zero', raw: ['--0'], header_type: 'item', must_fail: true },
    { name: 'negative integer', raw: ['-42'], header_type: 'item', expected: [-42, []] },
    {
      name: 'leading 0 integer',
      raw: ['042'],
      header_type: 'item',
      expected: [42, []],
      canonical: ['42'],
    },
    {
      name: 'leading 0 negative integer',
      raw: ['-042'],
      header_type: 'item',
      expected: [-42, []],
      canonical: ['-42'],
    },
    {
      name: 'leading 0 zero',
      raw: ['00'],
      header_type: 'item',
      expected: [0, []],
      canonical: ['0'],
    },
    { name: 'comma', raw: ['2,3'], header_type: 'item', must_fail: true },
    {
      name: 'negative non-DIGIT first character',
      raw: ['-a23'],
      header_type: 'item',
      must_fail: true,
    },
    { name: 'sign out of place', raw: ['4-2'], header_type: 'item', must_fail: true },
    { name: 'whitespace after sign', raw: ['- 42'], header_type: 'item', must_fail: true },
    {
      name: 'long integer',
      raw: ['123456789012345'],
      header_type: 'item',
      expected: [123456789012345, []],
    },
    {
      name: 'long integer followed by comma',
      raw: ['123456789012345, 1'],
      header_type: 'list',
      expected: [
        [123456789012345, []],
        [1, []],
      ],
    },
    {
      name: 'long negative integer',
      raw: ['-123456789012345'],
      header_type: 'item',
      expected: [-123456789012345, []],
    },
    { name: 'too long integer', raw: ['1234567890123456'], header_type: 'item', must_fail: true },
    {
      name: 'too long integer followed by comma',
      raw: ['1234567890123456, 1'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'negative too long integer',
      raw: ['-1234567890123456'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'simple decimal',
      raw: ['1.23'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 1.23 }, []],
    },
    {
      name: 'negative decimal',
      raw: ['-1.23'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: -1.23 }, []],
    },
    {
      name: 'decimal, whitespace after decimal',
      raw: ['1. 23'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal, whitespace before decimal',
      raw: ['1 .23'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'negative decimal, whitespace after sign',
      raw: ['- 1.23'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal, followed by comma',
      raw: ['123456789012.123, 1.1'],
      header_type: 'list',
      expected: [
        [{ __type: 'decimal', value: 123456789012.123 }, []],
        [{ __type: 'decimal', value: 1.1 }, []],
      ],
    },
    {
      name: 'tricky precision decimal',
      raw: ['123456789012.1'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 123456789012.1 }, []],
    },
    { name: 'double decimal decimal', raw: ['1.5.4'], header_type: 'item', must_fail: true },
    {
      name: 'adjacent double decimal decimal',
      raw: ['1..4'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal with three fractional digits',
      raw: ['1.123'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 1.123 }, []],
    },
    {
      name: 'negative decimal with three fractional digits',
      raw: ['-1.123'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: -1.123 }, []],
    },
    {
      name: 'decimal with zero fractional digits',
      raw: ['1.'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal with four fractional digits',
      raw: ['1.1234'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'negative decimal with four fractional digits',
      raw: ['-1.1234'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal with thirteen integer digits',
      raw: ['1234567890123.0'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'negative decimal with thirteen integer digits',
      raw: ['-1234567890123.0'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'decimal with 1 significant digit and 1 insignificant digit',
      raw: ['1.20'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 1.2 }, []],
      canonical: ['1.2'],
    },
    {
      name: 'decimal with 1 significant digit and 2 insignificant digits',
      raw: ['1.200'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 1.2 }, []],
      canonical: ['1.2'],
    },
    {
      name: 'decimal with 2 significant digits and 1 insignificant digit',
      raw: ['1.230'],
      header_type: 'item',
      expected: [{ __type: 'decimal', value: 1.23 }, []],
      canonical: ['1.23'],
    },
  ],
  'param-dict.json': [
    {
      name: 'basic parameterised dict',
      raw: ['abc=123;a=1;b=2, def=456, ghi=789;q=9;r="+w"'],
      header_type: 'dictionary',
      expected: [
        [
          'abc',
          [
            123,
            [
              ['a', 1],
              ['b', 2],
            ],
          ],
        ],
        ['def', [456, []]],
        [
          'ghi',
          [
            789,
            [
              ['q', 9],
              ['r', '+w'],
            ],
          ],
        ],
      ],
    },
    {
      name: 'single item parameterised dict',
      raw: ['a=b; q=1.0'],
      header_type: 'dictionary',
      expected: [
        ['a', [{ __type: 'token', value: 'b' }, [['q', { __type: 'decimal', value: 1.0 }]]]],
      ],
      canonical: ['a=b;q=1.0'],
    },
    {
      name: 'list item parameterised dictionary',
      raw: ['a=(1 2); q=1.0'],
      header_type: 'dictionary',
      expected: [
        [
          'a',
          [
            [
              [1, []],
              [2, []],
            ],
            [['q', { __type: 'decimal', value: 1.0 }]],
          ],
        ],
      ],
      canonical: ['a=(1 2);q=1.0'],
    },
    {
      name: 'missing parameter value parameterised dict',
      raw: ['a=3;c;d=5'],
      header_type: 'dictionary',
      expected: [
        [
          'a',
          [
            3,
            [
              ['c', true],
              ['d', 5],
            ],
          ],
        ],
      ],
    },
    {
      name: 'terminal missing parameter value parameterised dict',
      raw: ['a=3;c=5;d'],
      header_type: 'dictionary',
      expected: [
        [
          'a',
          [
            3,
            [
              ['c', 5],
              ['d', true],
            ],
          ],
        ],
      ],
    },
    {
      name: 'no whitespace parameterised dict',
      raw: ['a=b;c=1,d=e;f=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [{ __type: 'token', value: 'b' }, [['c', 1]]]],
        ['d', [{ __type: 'token', value: 'e' }, [['f', 2]]]],
      ],
      canonical: ['a=b;c=1, d=e;f=2'],
    },
    {
      name: 'whitespace before = parameterised dict',
      raw: ['a=b;q =0.5'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'whitespace after = parameterised dict',
      raw: ['a=b;q= 0.5'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'whitespace before ; parameterised dict',
      raw: ['a=b ;q=0.5'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'whitespace after ; parameterised dict',
      raw: ['a=b; q=0.5'],
      header_type: 'dictionary',
      expected: [
        ['a', [{ __type: 'token', value: 'b' }, [['q', { __type: 'decimal', value: 0.5 }]]]],
      ],
      canonical: ['a=b;q=0.5'],
    },
    {
      name: 'extra whitespace parameterised dict',
      raw: ['a=b;  c=1  ,  d=e; f=2; g=3'],
      header_type: 'dictionary',
      expected: [
        ['a', [{ __type: 'token', value: 'b' }, [['c', 1]]]],
        [
          'd',
          [
            { __type: 'token', value: 'e' },
            [
              ['f', 2],
              ['g', 3],
            ],
          ],
        ],
      ],
      canonical: ['a=b;c=1, d=e;f=2;g=3'],
    },
    {
      name: 'two lines parameterised list',
      raw: ['a=b;c=1', 'd=e;f=2'],
      header_type: 'dictionary',
      expected: [
        ['a', [{ __type: 'token', value: 'b' }, [['c', 1]]]],
        ['d', [{ __type: 'token', value: 'e' }, [['f', 2]]]],
      ],
      canonical: ['a=b;c=1, d=e;f=2'],
    },
    {
      name: 'trailing comma parameterised list',
      raw: ['a=b; q=1.0,'],
      header_type: 'dictionary',
      must_fail: true,
    },
    {
      name: 'empty item parameterised list',
      raw: ['a=b; q=1.0,,c=d'],
      header_type: 'dictionary',
      must_fail: true,
    },
  ],
  'param-list.json': [
    {
      name: 'basic parameterised list',
      raw: ['abc_123;a=1;b=2; cdef_456, ghi;q=9;r="+w"'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'abc_123' },
          [
            ['a', 1],
            ['b', 2],
            ['cdef_456', true],
          ],
        ],
        [
          { __type: 'token', value: 'ghi' },
          [
            ['q', 9],
            ['r', '+w'],
          ],
        ],
      ],
      canonical: ['abc_123;a=1;b=2;cdef_456, ghi;q=9;r="+w"'],
    },
    {
      name: 'single item parameterised list',
      raw: ['text/html;q=1.0'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'text/html' }, [['q', { __type: 'decimal', value: 1.0 }]]],
      ],
    },
    {
      name: 'missing parameter value parameterised list',
      raw: ['text/html;a;q=1.0'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'text/html' },
          [
            ['a', true],
            ['q', { __type: 'decimal', value: 1.0 }],
          ],
        ],
      ],
    },
    {
      name: 'missing terminal parameter value parameterised list',
      raw: ['text/html;q=1.0;a'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'text/html' },
          [
            ['q', { __type: 'decimal', value: 1.0 }],
            ['a', true],
          ],
        ],
      ],
    },
    {
      name: 'no whitespace parameterised list',
      raw: ['text/html,text/plain;q=0.5'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'text/html' }, []],
        [{ __type: 'token', value: 'text/plain' }, [['q', { __type: 'decimal', value: 0.5 }]]],
      ],
      canonical: ['text/html, text/plain;q=0.5'],
    },
    {
      name: 'whitespace before = parameterised list',
      raw: ['text/html, text/plain;q =0.5'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'whitespace after = parameterised list',
      raw: ['text/html, text/plain;q= 0.5'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'whitespace before ; parameterised list',
      raw: ['text/html, text/plain ;q=0.5'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'whitespace after ; parameterised list',
      raw: ['text/html, text/plain; q=0.5'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'text/html' }, []],
        [{ __type: 'token', value: 'text/plain' }, [['q', { __type: 'decimal', value: 0.5 }]]],
      ],
      canonical: ['text/html, text/plain;q=0.5'],
    },
    {
      name: 'extra whitespace parameterised list',
      raw: ['text/html  ,  text/plain;  q=0.5;  charset=utf-8'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'text/html' }, []],
        [
          { __type: 'token', value: 'text/plain' },
          [
            ['q', { __type: 'decimal', value: 0.5 }],
            ['charset', { __type: 'token', value: 'utf-8' }],
          ],
        ],
      ],
      canonical: ['text/html, text/plain;q=0.5;charset=utf-8'],
    },
    {
      name: 'two lines parameterised list',
      raw: ['text/html', 'text/plain;q=0.5'],
      header_type: 'list',
      expected: [
        [{ __type: 'token', value: 'text/html' }, []],
        [{ __type: 'token', value: 'text/plain' }, [['q', { __type: 'decimal', value: 0.5 }]]],
      ],
      canonical: ['text/html, text/plain;q=0.5'],
    },
    {
      name: 'trailing comma parameterised list',
      raw: ['text/html,text/plain;q=0.5,'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'empty item parameterised list',
      raw: ['text/html,,text/plain;q=0.5,'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'duplicate parameter with different positions',
      raw: ['a;b=1;c=2;b=3'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'a' },
          [
            ['b', 3],
            ['c', 2],
          ],
        ],
      ],
      canonical: ['a;b=3;c=2'],
    },
    {
      name: 'parameter ordering',
      raw: ['a;m;z;t'],
      header_type: 'list',
      expected: [
        [
          { __type: 'token', value: 'a' },
          [
            ['m', true],
            ['z', true],
            ['t', true],
          ],
        ],
      ],
    },
    {
      name: 'trailing semicolon in parameters',
      raw: ['a;b=1;'],
      header_type: 'list',
      must_fail: true,
    },
    {
      name: 'trailing semicolon and space in parameters',
      raw: ['a;b=1; '],
      header_type: 'list',
      must_fail: true,
    },
    { name: 'empty parameter key', raw: ['a;=1'], header_type: 'list', must_fail: true },
    { name: 'parameter prefix only', raw: ['a;'], header_type: 'list', must_fail: true },
    { name: 'parameter prefix and space only', raw: ['a; '], header_type: 'list', must_fail: true },
  ],
  'param-listlist.json': [
    {
      name: 'parameterised inner list',
      raw: ['(abc_123);a=1;b=2, cdef_456'],
      header_type: 'list',
      expected: [
        [
          [[{ __type: 'token', value: 'abc_123' }, []]],
          [
            ['a', 1],
            ['b', 2],
          ],
        ],
        [{ __type: 'token', value: 'cdef_456' }, []],
      ],
    },
    {
      name: 'parameterised inner list item',
      raw: ['(abc_123;a=1;b=2;cdef_456)'],
      header_type: 'list',
      expected: [
        [
          [
            [
              { __type: 'token', value: 'abc_123' },
              [
                ['a', 1],
                ['b', 2],
                ['cdef_456', true],
              ],
            ],
          ],
          [],
        ],
      ],
    },
    {
      name: 'parameterised inner list with parameterised item',
      raw: ['(abc_123;a=1;b=2);cdef_456'],
      header_type: 'list',
      expected: [
        [
          [
            [
              { __type: 'token', value: 'abc_123' },
              [
                ['a', 1],
                ['b', 2],
              ],
            ],
          ],
          [['cdef_456', true]],
        ],
      ],
    },
  ],
  'string.json': [
    { name: 'basic string', raw: ['"foo bar"'], header_type: 'item', expected: ['foo bar', []] },
    { name: 'empty string', raw: ['""'], header_type: 'item', expected: ['', []] },
    {
      name: 'long string',
      raw: [
        '"foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo "',
      ],
      header_type: 'item',
      expected: [
        'foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo foo ',
        [],
      ],
    },
    { name: 'whitespace string', raw: ['"   "'], header_type: 'item', expected: ['   ', []] },
    { name: 'non-ascii string', raw: ['"f\u00fc\u00fc"'], header_type: 'item', must_fail: true },
    { name: 'tab in string', raw: ['"\t"'], header_type: 'item', must_fail: true },
    { name: 'newline in string', raw: ['" \n "'], header_type: 'item', must_fail: true },
    { name: 'single quoted string', raw: ["'foo'"], header_type: 'item', must_fail: true },
    { name: 'unbalanced string', raw: ['"foo'], header_type: 'item', must_fail: true },
    {
      name: 'string quoting',
      raw: ['"foo \\"bar\\" \\\\ baz"'],
      header_type: 'item',
      expected: ['foo "bar" \\ baz', []],
    },
    { name: 'bad string quoting', raw: ['"foo \\,"'], header_type: 'item', must_fail: true },
    { name: 'ending string quote', raw: ['"foo \\"'], header_type: 'item', must_fail: true },
    {
      name: 'abruptly ending string quote',
      raw: ['"foo \\'],
      header_type: 'item',
      must_fail: true,
    },
    {
      name: 'two lines string',
      raw: ['"foo', 'bar"'],
      header_type: 'item',
      expected: ['foo, bar', []],
      can_fail: true,
      canonical: ['"foo, bar"'],
    },
  ],
  'token.json': [
    {
      name: 'basic token - item',
      raw: ['a_b-c.d3:f%00/*'],
      header_type: 'item',
      expected: [{ __type: 'token', value: 'a_b-c.d3:f%00/*' }, []],
    },
    {
      name: 'token with capitals - item',
      raw: ['fooBar'],
      header_type: 'item',
      expected: [{ __type: 'token', value: 'fooBar' }, []],
    },
    {
      name: 'token starting with capitals - item',
      raw: ['FooBar'],
      header_type: 'item',
      expected: [{ __type: 'token', value: 'FooBar' }, []],
    },
    {
      name: 'basic token - list',
      raw: ['a_b-c3/*'],
      header_type: 'list',
      expected: [[{ __type: 'token', value: 'a_b-c3/*' }, []]],
    },
    {
      name: 'token with capitals - list',
      raw: ['fooBar'],
      header_type: 'list',
      expected: [[{ __type: 'token', value: 'fooBar' }, []]],
    },
    {
      name: 'token starting with capitals - list',
      raw: ['FooBar'],
      header_type: 'list',
      expected: [[{ __type: 'token', value: 'FooBar' }, []]],
    },
  ],
}

const SERIALISATION_SUITE: SuiteCase[] = [
  {
    name: 'too big positive integer - serialize',
    header_type: 'item',
    expected: [1000000000000000, []],
    must_fail: true,
  },
  {
    name: 'too big negative integer - serialize',
    header_type: 'item',
    expected: [-1000000000000000, []],
    must_fail: true,
  },
  {
    name: 'too big positive decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 1000000000000.1 }, []],
    must_fail: true,
  },
  {
    name: 'too big negative decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: -1000000000000.1 }, []],
    must_fail: true,
  },
  {
    name: 'round positive odd decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 0.0015 }, []],
    canonical: ['0.002'],
  },
  {
    name: 'round positive even decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 0.0025 }, []],
    canonical: ['0.002'],
  },
  {
    name: 'round negative odd decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: -0.0015 }, []],
    canonical: ['-0.002'],
  },
  {
    name: 'round negative even decimal - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: -0.0025 }, []],
    canonical: ['-0.002'],
  },
  {
    name: 'decimal round up to integer part - serialize',
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 9.9995 }, []],
    canonical: ['10.0'],
  },
]

// Cases derived from the RFC 9651 text and from what Ferry's fields need (Upload-Offset,
// Upload-Complete, Upload-Limit, Repr-Digest), in the same format.
const RFC_AND_FERRY_CASES: SuiteCase[] = [
  // Items with parameters, as Upload-Offset / Upload-Length may carry.
  {
    name: 'Upload-Offset with a parameter',
    raw: ['5;x=1'],
    header_type: 'item',
    expected: [5, [['x', 1]]],
  },
  {
    name: 'parameters with SP after ;',
    raw: ['5; x=1; y'],
    header_type: 'item',
    expected: [
      5,
      [
        ['x', 1],
        ['y', true],
      ],
    ],
    canonical: ['5;x=1;y'],
  },
  { name: 'negative integer', raw: ['-5'], header_type: 'item', expected: [-5, []] },
  {
    name: 'largest integer',
    raw: ['999999999999999'],
    header_type: 'item',
    expected: [999999999999999, []],
  },
  {
    name: 'smallest integer',
    raw: ['-999999999999999'],
    header_type: 'item',
    expected: [-999999999999999, []],
  },
  { name: '16-digit integer', raw: ['1000000000000000'], header_type: 'item', must_fail: true },
  {
    name: '16-digit integer of zeros',
    raw: ['0000000000000000'],
    header_type: 'item',
    must_fail: true,
  },
  { name: 'plus sign', raw: ['+5'], header_type: 'item', must_fail: true },
  { name: 'exponent notation', raw: ['1e3'], header_type: 'item', must_fail: true },
  { name: 'hex integer', raw: ['0x10'], header_type: 'item', must_fail: true },
  { name: 'digit separator', raw: ['1_000'], header_type: 'item', must_fail: true },
  { name: 'lone minus', raw: ['-'], header_type: 'item', must_fail: true },
  {
    name: '1.5 is a Decimal',
    raw: ['1.5'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 1.5 }, []],
  },
  {
    name: 'zero decimal',
    raw: ['0.0'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 0 }, []],
  },
  {
    name: 'negative zero decimal',
    raw: ['-0.0'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 0 }, []],
    canonical: ['0.0'],
  },
  {
    name: 'largest decimal',
    raw: ['999999999999.999'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: 999999999999.999 }, []],
  },
  {
    name: 'smallest decimal',
    raw: ['-999999999999.999'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: -999999999999.999 }, []],
  },
  {
    name: 'small negative decimal',
    raw: ['-0.001'],
    header_type: 'item',
    expected: [{ __type: 'decimal', value: -0.001 }, []],
  },
  { name: 'decimal without integer digits', raw: ['.5'], header_type: 'item', must_fail: true },
  {
    name: 'negative decimal without integer digits',
    raw: ['-.5'],
    header_type: 'item',
    must_fail: true,
  },
  { name: 'decimal with exponent', raw: ['1.5e3'], header_type: 'item', must_fail: true },
  { name: 'decimal with comma', raw: ['1,5'], header_type: 'item', must_fail: true },
  // Booleans (Upload-Complete).
  { name: '?true is not a Boolean', raw: ['?true'], header_type: 'item', must_fail: true },
  { name: '?2 is not a Boolean', raw: ['?2'], header_type: 'item', must_fail: true },
  { name: '?10 has trailing garbage', raw: ['?10'], header_type: 'item', must_fail: true },
  {
    name: 'Boolean with parameters',
    raw: ['?1;a=1'],
    header_type: 'item',
    expected: [true, [['a', 1]]],
  },
  { name: 'two Booleans are not an Item', raw: ['?1, ?0'], header_type: 'item', must_fail: true },
  {
    name: 'two Booleans as a List',
    raw: ['?1, ?0'],
    header_type: 'list',
    expected: [
      [true, []],
      [false, []],
    ],
  },
  {
    name: 'two Boolean field lines as an Item',
    raw: ['?1', '?1'],
    header_type: 'item',
    must_fail: true,
  },
  // Whitespace rules (RFC 9651 §4.2, §4.2.1, §4.2.2).
  {
    name: 'only SP is an empty List',
    raw: ['   '],
    header_type: 'list',
    expected: [],
    canonical: [],
  },
  {
    name: 'only SP is an empty Dictionary',
    raw: ['   '],
    header_type: 'dictionary',
    expected: [],
    canonical: [],
  },
  { name: 'only SP is not an Item', raw: ['   '], header_type: 'item', must_fail: true },
  { name: 'leading HTAB list', raw: ['\t1'], header_type: 'list', must_fail: true },
  { name: 'leading HTAB dictionary', raw: ['\ta=1'], header_type: 'dictionary', must_fail: true },
  {
    name: 'trailing HTAB list is OWS',
    raw: ['1\t'],
    header_type: 'list',
    expected: [[1, []]],
    canonical: ['1'],
  },
  {
    name: 'trailing HTAB dictionary is OWS',
    raw: ['a=1\t'],
    header_type: 'dictionary',
    expected: [['a', [1, []]]],
    canonical: ['a=1'],
  },
  { name: 'trailing HTAB item', raw: ['1\t'], header_type: 'item', must_fail: true },
  { name: 'HTAB after ; in parameters', raw: ['a;\tb'], header_type: 'item', must_fail: true },
  {
    name: 'SP inside an Inner List only',
    raw: ['( 1  2 )\t,\t3'],
    header_type: 'list',
    expected: [
      [
        [
          [1, []],
          [2, []],
        ],
        [],
      ],
      [3, []],
    ],
    canonical: ['(1 2), 3'],
  },
  { name: 'CR LF in a field', raw: ['1,\r\n2'], header_type: 'list', must_fail: true },
  { name: 'NUL in a field', raw: ['1\u0000'], header_type: 'item', must_fail: true },
  { name: 'non-ASCII after a valid Item', raw: ['1 \u00e9'], header_type: 'item', must_fail: true },
  {
    name: 'non-ASCII in a Dictionary value',
    raw: ['a=\u00fc'],
    header_type: 'dictionary',
    must_fail: true,
  },
  { name: 'non-Latin-1 character', raw: ['"\u20ac"'], header_type: 'item', must_fail: true },
  // Inner Lists (RFC 9651 §4.2.1.2).
  {
    name: 'Inner List of SP only',
    raw: ['(   )'],
    header_type: 'list',
    expected: [[[], []]],
    canonical: ['()'],
  },
  { name: 'adjacent Inner Lists', raw: ['(1)(2)'], header_type: 'list', must_fail: true },
  {
    name: 'Inner Lists separated by SP only',
    raw: ['(1) (2)'],
    header_type: 'list',
    must_fail: true,
  },
  { name: 'Inner List as an Item', raw: ['(1 2)'], header_type: 'item', must_fail: true },
  {
    name: 'Inner List with parameterised mixed items',
    raw: ['("a";x=?0 b :AAE=: @1 %"c");y=1.25'],
    header_type: 'list',
    expected: [
      [
        [
          ['a', [['x', false]]],
          [{ __type: 'token', value: 'b' }, []],
          [{ __type: 'binary', value: 'AAAQ====' }, []],
          [{ __type: 'date', value: 1 }, []],
          [{ __type: 'displaystring', value: 'c' }, []],
        ],
        [['y', { __type: 'decimal', value: 1.25 }]],
      ],
    ],
  },
  {
    name: 'Inner List parameter SP before ;',
    raw: ['(1) ;a'],
    header_type: 'list',
    must_fail: true,
  },
  { name: 'unterminated Inner List after SP', raw: ['(1 '], header_type: 'list', must_fail: true },
  // Dictionaries (RFC 9651 §4.2.2), Upload-Limit and Repr-Digest style.
  {
    name: 'Upload-Limit style',
    raw: ['max-size=1234567890, max-age=3600'],
    header_type: 'dictionary',
    expected: [
      ['max-size', [1234567890, []]],
      ['max-age', [3600, []]],
    ],
  },
  {
    name: 'Upload-Limit on two field lines',
    raw: ['max-size=1234567890', 'max-age=3600'],
    header_type: 'dictionary',
    expected: [
      ['max-size', [1234567890, []]],
      ['max-age', [3600, []]],
    ],
    canonical: ['max-size=1234567890, max-age=3600'],
  },
  {
    name: 'bare key is Boolean true',
    raw: ['max-size'],
    header_type: 'dictionary',
    expected: [['max-size', [true, []]]],
  },
  {
    name: 'bare key with parameters',
    raw: ['a;x=1;y'],
    header_type: 'dictionary',
    expected: [
      [
        'a',
        [
          true,
          [
            ['x', 1],
            ['y', true],
          ],
        ],
      ],
    ],
  },
  {
    name: 'explicit ?1 member is canonically bare',
    raw: ['a=?1'],
    header_type: 'dictionary',
    expected: [['a', [true, []]]],
    canonical: ['a'],
  },
  {
    name: '?0 member keeps its value',
    raw: ['a=?0;x'],
    header_type: 'dictionary',
    expected: [['a', [false, [['x', true]]]]],
  },
  {
    name: 'Repr-Digest sha-256',
    raw: ['sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:'],
    header_type: 'dictionary',
    expected: [
      [
        'sha-256',
        [
          { __type: 'binary', value: 'L6HQJ5VDVCJKVK553NWPE44JISJXOOLA2SRSLMIF73SG532DATYQ====' },
          [],
        ],
      ],
    ],
  },
  {
    name: 'Repr-Digest sha-256 and sha-512',
    raw: [
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    ],
    header_type: 'dictionary',
    expected: [
      [
        'sha-256',
        [
          { __type: 'binary', value: 'L6HQJ5VDVCJKVK553NWPE44JISJXOOLA2SRSLMIF73SG532DATYQ====' },
          [],
        ],
      ],
      [
        'sha-512',
        [
          {
            __type: 'binary',
            value:
              'LGIM62KZ77WXQB3IBS6KM2RDAJAZNII4OZIFBIIXRVANVS6X7E3I7G7ADPAAQAK2PLEITCLFXOYE2NZHTKK5KS55DQCJSMOWL3ZHA6Y=',
          },
          [],
        ],
      ],
    ],
    canonical: [
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    ],
  },
  {
    name: 'duplicate key keeps the first position',
    raw: ['a, b=2, a=3'],
    header_type: 'dictionary',
    expected: [
      ['a', [3, []]],
      ['b', [2, []]],
    ],
    canonical: ['a=3, b=2'],
  },
  {
    name: 'duplicate key replaces an Inner List with an Item',
    raw: ['a=(1), a=2;x'],
    header_type: 'dictionary',
    expected: [['a', [2, [['x', true]]]]],
    canonical: ['a=2;x'],
  },
  {
    name: 'duplicate parameter keeps the first position',
    raw: ['x;a=1;b;a'],
    header_type: 'item',
    expected: [
      { __type: 'token', value: 'x' },
      [
        ['a', true],
        ['b', true],
      ],
    ],
    canonical: ['x;a;b'],
  },
  {
    name: 'key starting with *',
    raw: ['*a=1'],
    header_type: 'dictionary',
    expected: [['*a', [1, []]]],
  },
  {
    name: 'dictionary value missing after =',
    raw: ['a='],
    header_type: 'dictionary',
    must_fail: true,
  },
  {
    name: 'dictionary key followed by garbage',
    raw: ['a b'],
    header_type: 'dictionary',
    must_fail: true,
  },
  { name: 'dictionary with only a comma', raw: [','], header_type: 'dictionary', must_fail: true },
  { name: 'list with only a comma', raw: [','], header_type: 'list', must_fail: true },
  {
    name: 'list with an empty first field line',
    raw: ['', '1'],
    header_type: 'list',
    must_fail: true,
  },
  {
    name: 'dictionary value is a parameter-only member',
    raw: ['a=;b'],
    header_type: 'dictionary',
    must_fail: true,
  },
  // Strings and Tokens (RFC 9651 §4.2.5, §4.2.6).
  { name: 'escaped backslash only', raw: ['"\\\\"'], header_type: 'item', expected: ['\\', []] },
  { name: 'DEL in string', raw: ['"\u007f"'], header_type: 'item', must_fail: true },
  {
    name: 'string followed by a parameter',
    raw: ['"a b";c="d"'],
    header_type: 'item',
    expected: ['a b', [['c', 'd']]],
  },
  {
    name: 'lone * token',
    raw: ['*'],
    header_type: 'item',
    expected: [{ __type: 'token', value: '*' }, []],
  },
  {
    name: 'RFC 9651 §3.3.4 token example',
    raw: ['foo123/456'],
    header_type: 'item',
    expected: [{ __type: 'token', value: 'foo123/456' }, []],
  },
  {
    name: 'token ends before ;',
    raw: ['a/b;c'],
    header_type: 'item',
    expected: [{ __type: 'token', value: 'a/b' }, [['c', true]]],
  },
  { name: 'token ends before (', raw: ['a(b'], header_type: 'item', must_fail: true },
  // Byte Sequences (RFC 9651 §4.2.7): padding synthesised, but the alphabet is strict.
  {
    name: 'partial padding is completed',
    raw: [':YQ=:'],
    header_type: 'item',
    expected: [{ __type: 'binary', value: 'ME======' }, []],
    canonical: [':YQ==:'],
  },
  {
    name: 'no padding, two bytes',
    raw: [':YWI:'],
    header_type: 'item',
    expected: [{ __type: 'binary', value: 'MFRA====' }, []],
    canonical: [':YWI=:'],
  },
  { name: 'single base64 character', raw: [':Y:'], header_type: 'item', must_fail: true },
  { name: 'too much padding', raw: [':YQ===:'], header_type: 'item', must_fail: true },
  { name: 'only padding', raw: [':==:'], header_type: 'item', must_fail: true },
  { name: 'padding then more data', raw: [':YQ==YQ==:'], header_type: 'item', must_fail: true },
  { name: 'HTAB inside binary', raw: [':YQ\t==:'], header_type: 'item', must_fail: true },
  {
    name: 'binary with parameters',
    raw: [':AQID:;a=1'],
    header_type: 'item',
    expected: [{ __type: 'binary', value: 'AEBAG===' }, [['a', 1]]],
  },
  // Dates (RFC 9651 §4.2.9).
  {
    name: 'RFC 9651 §3.3.7 date example',
    raw: ['@1659578233'],
    header_type: 'item',
    expected: [{ __type: 'date', value: 1659578233 }, []],
  },
  { name: 'date with a zero decimal', raw: ['@1.0'], header_type: 'item', must_fail: true },
  {
    name: 'date with parameters',
    raw: ['@1;a'],
    header_type: 'item',
    expected: [{ __type: 'date', value: 1 }, [['a', true]]],
  },
  { name: '16-digit date', raw: ['@0000000000000001'], header_type: 'item', must_fail: true },
  { name: 'double @', raw: ['@@1'], header_type: 'item', must_fail: true },
  // Display Strings (RFC 9651 §4.2.10): lowercase %xx, strict UTF-8.
  {
    name: 'RFC 9651 §3.3.8 example',
    raw: ['%"This is intended for display to %c3%bcsers."'],
    header_type: 'item',
    expected: [
      { __type: 'displaystring', value: 'This is intended for display to \u00fcsers.' },
      [],
    ],
  },
  {
    name: '4-byte UTF-8',
    raw: ['%"%f0%9f%98%80"'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: '\u{1f600}' }, []],
  },
  {
    name: 'largest code point',
    raw: ['%"%f4%8f%bf%bf"'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: '\u{10ffff}' }, []],
  },
  {
    name: 'percent and DQUOTE are escaped',
    raw: ['%"%25%22"'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: '%"' }, []],
  },
  {
    name: 'controls are escaped',
    raw: ['%"a%0ab%7f"'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: 'a\nb\u007f' }, []],
  },
  {
    name: 'escaped printable is canonically literal',
    raw: ['%"%41%7e"'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: 'A~' }, []],
    canonical: ['%"A~"'],
  },
  {
    name: 'empty display string',
    raw: ['%""'],
    header_type: 'item',
    expected: [{ __type: 'displaystring', value: '' }, []],
  },
  { name: 'overlong 2-byte UTF-8', raw: ['%"%c0%af"'], header_type: 'item', must_fail: true },
  { name: 'overlong 3-byte UTF-8', raw: ['%"%e0%80%af"'], header_type: 'item', must_fail: true },
  { name: 'overlong 4-byte UTF-8', raw: ['%"%f0%80%80%af"'], header_type: 'item', must_fail: true },
  { name: 'UTF-8 surrogate', raw: ['%"%ed%a0%80"'], header_type: 'item', must_fail: true },
  { name: 'UTF-8 beyond U+10FFFF', raw: ['%"%f4%90%80%80"'], header_type: 'item', must_fail: true },
  { name: 'UTF-8 lead byte 0xff', raw: ['%"%ff"'], header_type: 'item', must_fail: true },
  { name: 'lone UTF-8 continuation byte', raw: ['%"%80"'], header_type: 'item', must_fail: true },
  { name: 'truncated UTF-8 sequence', raw: ['%"%e2%82"'], header_type: 'item', must_fail: true },
  { name: 'truncated escape (one digit)', raw: ['%"%2"'], header_type: 'item', must_fail: true },
  { name: 'escape at end of input', raw: ['%"%'], header_type: 'item', must_fail: true },
  { name: 'SP between % and DQUOTE', raw: ['% "a"'], header_type: 'item', must_fail: true },
  {
    name: 'display string with parameters',
    raw: ['%"a";lang=en'],
    header_type: 'item',
    expected: [
      { __type: 'displaystring', value: 'a' },
      [['lang', { __type: 'token', value: 'en' }]],
    ],
  },
  // Bare Item dispatch (RFC 9651 §4.2.3.1).
  { name: 'unknown bare item start', raw: ['!a'], header_type: 'item', must_fail: true },
  {
    name: 'parameter value cannot be an Inner List',
    raw: ['a;b=(1)'],
    header_type: 'item',
    must_fail: true,
  },
  { name: 'parameter value missing', raw: ['a;b='], header_type: 'item', must_fail: true },
  { name: 'uppercase parameter key', raw: ['5;X=1'], header_type: 'item', must_fail: true },
]

// Character-class cases, generated here the way generate.py of httpwg/structured-field-tests
// generates its *-generated.json files, from the ABNF of RFC 9651 §3. The ASCII loops are
// extended to 0x80-0xFF, which must always fail (RFC 9651 §4.2 step 1).

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

function codes(chars: string): number[] {
  return [...chars].map((ch) => ch.charCodeAt(0))
}

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, '0')}`
}

const ALL_CHARS = range(0x00, 0xff)
const DIGITS = range(0x30, 0x39)
const LCALPHA = range(0x61, 0x7a)
const ALPHA = [...LCALPHA, ...range(0x41, 0x5a)]
const ALLOWED_STRING_CHARS = new Set([0x20, 0x21, ...range(0x23, 0x5b), ...range(0x5d, 0x7e)])
const ESCAPED_STRING_CHARS = new Set(codes('"\\'))
const ALLOWED_TOKEN_CHARS = new Set([...DIGITS, ...ALPHA, ...codes(":/!#$%&'*+-.^_`|~")])
const ALLOWED_TOKEN_START_CHARS = new Set([...ALPHA, 0x2a])
const ALLOWED_KEY_CHARS = new Set([...DIGITS, ...LCALPHA, ...codes('_-.*')])
const ALLOWED_KEY_START_CHARS = new Set([...LCALPHA, 0x2a])
const TOKEN_FOO = { __type: 'token', value: 'foo' }

function stringCases(): SuiteCase[] {
  const cases: SuiteCase[] = []
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    cases.push(
      ALLOWED_STRING_CHARS.has(c)
        ? {
            name: `${hex(c)} in string`,
            raw: [`" ${ch} "`],
            header_type: 'item',
            expected: [` ${ch} `, []],
          }
        : { name: `${hex(c)} in string`, raw: [`" ${ch} "`], header_type: 'item', must_fail: true },
    )
    cases.push(
      ESCAPED_STRING_CHARS.has(c)
        ? {
            name: `Escaped ${hex(c)} in string`,
            raw: [`"\\${ch}"`],
            header_type: 'item',
            expected: [ch, []],
          }
        : {
            name: `Escaped ${hex(c)} in string`,
            raw: [`"\\${ch}"`],
            header_type: 'item',
            must_fail: true,
          },
    )
  }
  return cases
}

function tokenCases(): SuiteCase[] {
  const cases: SuiteCase[] = []
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} in token`
    const raw = [`a${ch}a`]
    if (ALLOWED_TOKEN_CHARS.has(c)) {
      cases.push({
        name,
        raw,
        header_type: 'item',
        expected: [{ __type: 'token', value: `a${ch}a` }, []],
      })
    } else if (ch === ';') {
      cases.push({
        name,
        raw,
        header_type: 'item',
        expected: [{ __type: 'token', value: 'a' }, [['a', true]]],
      })
    } else {
      cases.push({ name, raw, header_type: 'item', must_fail: true })
    }
  }
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} starting a token`
    const raw = [`${ch}a`]
    if (c === 0x20) {
      cases.push({
        name,
        raw,
        header_type: 'item',
        expected: [{ __type: 'token', value: 'a' }, []],
        canonical: ['a'],
      })
    } else if (ALLOWED_TOKEN_START_CHARS.has(c)) {
      cases.push({
        name,
        raw,
        header_type: 'item',
        expected: [{ __type: 'token', value: `${ch}a` }, []],
      })
    } else {
      cases.push({ name, raw, header_type: 'item', must_fail: true })
    }
  }
  return cases
}

function keyCases(): SuiteCase[] {
  const cases: SuiteCase[] = []
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} as a single-character dictionary key`
    if (c === 0x20) cases.push({ name, raw: ['=1'], header_type: 'dictionary', must_fail: true })
    else if (ALLOWED_KEY_START_CHARS.has(c))
      cases.push({ name, raw: [`${ch}=1`], header_type: 'dictionary', expected: [[ch, [1, []]]] })
    else cases.push({ name, raw: [`${ch}=1`], header_type: 'dictionary', must_fail: true })
  }
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} in dictionary key`
    const raw = [`a${ch}a=1`]
    if (ch === ',')
      cases.push({
        name,
        raw,
        header_type: 'dictionary',
        expected: [['a', [1, []]]],
        canonical: ['a=1'],
      })
    else if (ch === ';')
      cases.push({ name, raw, header_type: 'dictionary', expected: [['a', [true, [['a', 1]]]]] })
    else if (ALLOWED_KEY_CHARS.has(c))
      cases.push({ name, raw, header_type: 'dictionary', expected: [[`a${ch}a`, [1, []]]] })
    else cases.push({ name, raw, header_type: 'dictionary', must_fail: true })
  }
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} starting a dictionary key`
    const raw = [`${ch}a=1`]
    if (c === 0x20)
      cases.push({
        name,
        raw,
        header_type: 'dictionary',
        expected: [['a', [1, []]]],
        canonical: ['a=1'],
      })
    else if (ALLOWED_KEY_START_CHARS.has(c))
      cases.push({ name, raw, header_type: 'dictionary', expected: [[`${ch}a`, [1, []]]] })
    else cases.push({ name, raw, header_type: 'dictionary', must_fail: true })
  }
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} in parameterised list key`
    const raw = [`foo; a${ch}a=1`]
    if (ch === ';')
      cases.push({
        name,
        raw,
        header_type: 'list',
        expected: [[TOKEN_FOO, [['a', 1]]]],
        canonical: ['foo;a=1'],
      })
    else if (ALLOWED_KEY_CHARS.has(c))
      cases.push({
        name,
        raw,
        header_type: 'list',
        expected: [[TOKEN_FOO, [[`a${ch}a`, 1]]]],
        canonical: [`foo;a${ch}a=1`],
      })
    else cases.push({ name, raw, header_type: 'list', must_fail: true })
  }
  for (const c of ALL_CHARS) {
    const ch = String.fromCharCode(c)
    const name = `${hex(c)} starting a parameterised list key`
    const raw = [`foo; ${ch}a=1`]
    if (c === 0x20)
      cases.push({
        name,
        raw,
        header_type: 'list',
        expected: [[TOKEN_FOO, [['a', 1]]]],
        canonical: ['foo;a=1'],
      })
    else if (ALLOWED_KEY_START_CHARS.has(c))
      cases.push({
        name,
        raw,
        header_type: 'list',
        expected: [[TOKEN_FOO, [[`${ch}a`, 1]]]],
        canonical: [`foo;${ch}a=1`],
      })
    else cases.push({ name, raw, header_type: 'list', must_fail: true })
  }
  return cases
}

function numberCases(): SuiteCase[] {
  const cases: SuiteCase[] = []
  for (let i = 1; i <= 15; i++) {
    cases.push({
      name: `${i} digits of zero`,
      raw: ['0'.repeat(i)],
      header_type: 'item',
      expected: [0, []],
      canonical: ['0'],
    })
    cases.push({
      name: `${i} digit small integer`,
      raw: ['1'.repeat(i)],
      header_type: 'item',
      expected: [Number('1'.repeat(i)), []],
    })
    cases.push({
      name: `${i} digit large integer`,
      raw: ['9'.repeat(i)],
      header_type: 'item',
      expected: [Number('9'.repeat(i)), []],
    })
    cases.push({
      name: `${i} digit negative integer`,
      raw: [`-${'9'.repeat(i)}`],
      header_type: 'item',
      expected: [-Number('9'.repeat(i)), []],
    })
  }
  for (let i = 1; i <= 12; i++) {
    for (let j = 1; j <= 3; j++) {
      const k = i + j
      const decimal = (text: string) => ({ __type: 'decimal', value: Number(text) })
      const small0 = `${'0'.repeat(i)}.${'1'.repeat(j)}`
      cases.push({
        name: `${k} digit 0, ${j} fractional small decimal`,
        raw: [small0],
        header_type: 'item',
        expected: [decimal(small0), []],
        canonical: [`0.${'1'.repeat(j)}`],
      })
      const zeros = `${'1'.repeat(i)}.${'0'.repeat(j)}`
      cases.push({
        name: `${k} digit, ${j} fractional 0 decimal`,
        raw: [zeros],
        header_type: 'item',
        expected: [decimal(zeros), []],
        canonical: [`${'1'.repeat(i)}.0`],
      })
      const small = `${'1'.repeat(i)}.${'1'.repeat(j)}`
      cases.push({
        name: `${k} digit, ${j} fractional small decimal`,
        raw: [small],
        header_type: 'item',
        expected: [decimal(small), []],
      })
      const large = `${'9'.repeat(i)}.${'9'.repeat(j)}`
      cases.push({
        name: `${k} digit, ${j} fractional large decimal`,
        raw: [large],
        header_type: 'item',
        expected: [decimal(large), []],
      })
    }
  }
  cases.push({
    name: 'too many digit 0 decimal',
    raw: [`${'0'.repeat(15)}.0`],
    header_type: 'item',
    must_fail: true,
  })
  cases.push({
    name: 'too many fractional digits 0 decimal',
    raw: [`${'0'.repeat(12)}.${'0'.repeat(4)}`],
    header_type: 'item',
    must_fail: true,
  })
  cases.push({
    name: 'too many digit 9 decimal',
    raw: [`${'9'.repeat(15)}.9`],
    header_type: 'item',
    must_fail: true,
  })
  cases.push({
    name: 'too many fractional digits 9 decimal',
    raw: [`${'9'.repeat(12)}.${'9'.repeat(4)}`],
    header_type: 'item',
    must_fail: true,
  })
  return cases
}

function largeCases(): SuiteCase[] {
  const n = (count: number) => range(0, count - 1)
  const bytes = new Uint8Array(16384).fill(0x61)
  return [
    {
      name: 'large dictionary',
      raw: [
        n(1024)
          .map((i) => `a${i}=1`)
          .join(', '),
      ],
      header_type: 'dictionary',
      expected: n(1024).map((i) => [`a${i}`, [1, []]]),
    },
    {
      name: 'large dictionary key',
      raw: [`${'a'.repeat(64)}=1`],
      header_type: 'dictionary',
      expected: [['a'.repeat(64), [1, []]]],
    },
    {
      name: 'large list',
      raw: [
        n(1024)
          .map((i) => `a${i}`)
          .join(', '),
      ],
      header_type: 'list',
      expected: n(1024).map((i) => [{ __type: 'token', value: `a${i}` }, []]),
    },
    {
      name: 'large parameterised list',
      raw: [
        n(1024)
          .map((i) => `foo;a${i}=1`)
          .join(', '),
      ],
      header_type: 'list',
      expected: n(1024).map((i) => [TOKEN_FOO, [[`a${i}`, 1]]]),
    },
    {
      name: 'large params',
      raw: [
        `foo;${n(256)
          .map((i) => `a${i}=1`)
          .join(';')}`,
      ],
      header_type: 'list',
      expected: [[TOKEN_FOO, n(256).map((i) => [`a${i}`, 1])]],
    },
    {
      name: 'large param key',
      raw: [`foo;${'a'.repeat(64)}=1`],
      header_type: 'list',
      expected: [[TOKEN_FOO, [['a'.repeat(64), 1]]]],
    },
    {
      name: 'large string',
      raw: [`"${'='.repeat(1024)}"`],
      header_type: 'item',
      expected: ['='.repeat(1024), []],
    },
    {
      name: 'large escaped string',
      raw: [`"${'\\"'.repeat(1024)}"`],
      header_type: 'item',
      expected: ['"'.repeat(1024), []],
    },
    {
      name: 'large token',
      raw: ['a'.repeat(512)],
      header_type: 'item',
      expected: [{ __type: 'token', value: 'a'.repeat(512) }, []],
    },
    {
      name: 'large byte sequence',
      raw: [`:${'YWFh'.repeat(5461)}YQ==:`],
      header_type: 'item',
      expected: [{ __type: 'binary', value: base32Encode(bytes) }, []],
    },
    {
      name: 'large inner list',
      raw: [`(${n(256).join(' ')})`],
      header_type: 'list',
      expected: [[n(256).map((i) => [i, []]), []]],
    },
  ]
}

// The suite's serialisation-tests/*-generated.json: values that must not serialize.
function serializationFailureCases(): SuiteCase[] {
  const cases: SuiteCase[] = []
  const fail = (name: string, header_type: HeaderType, expected: unknown) =>
    cases.push({ name: `${name} - serialise only`, header_type, expected, must_fail: true })
  for (const c of [...ALL_CHARS, 0x100, 0x20ac]) {
    const ch = String.fromCharCode(c)
    if (!ALLOWED_STRING_CHARS.has(c) && !ESCAPED_STRING_CHARS.has(c)) {
      fail(`${hex(c)} in string`, 'item', [ch, []])
    }
    if (!ALLOWED_TOKEN_CHARS.has(c))
      fail(`${hex(c)} in token`, 'item', [{ __type: 'token', value: `a${ch}a` }, []])
    if (!ALLOWED_TOKEN_START_CHARS.has(c))
      fail(`${hex(c)} starting a token`, 'item', [{ __type: 'token', value: `${ch}a` }, []])
    if (!ALLOWED_KEY_CHARS.has(c)) {
      fail(`${hex(c)} in dictionary key`, 'dictionary', [[`a${ch}a`, [1, []]]])
      fail(`${hex(c)} in parameterised list key`, 'list', [[TOKEN_FOO, [[`a${ch}a`, 1]]]])
    }
    if (!ALLOWED_KEY_START_CHARS.has(c)) {
      fail(`${hex(c)} starting a dictionary key`, 'dictionary', [[`${ch}a`, [1, []]]])
      fail(`${hex(c)} starting a parameterised list key`, 'list', [[TOKEN_FOO, [[`${ch}a`, 1]]]])
    }
  }
  return cases
}

const GENERATED_FAMILIES: [string, () => SuiteCase[]][] = [
  ['string-generated (0x00-0xff)', stringCases],
  ['token-generated (0x00-0xff)', tokenCases],
  ['key-generated (0x00-0xff)', keyCases],
  ['number-generated', numberCases],
  ['large-generated', largeCases],
  ['serialisation-tests/*-generated (0x00-0xff)', serializationFailureCases],
]

// Ferry's field accessors: [field value, parseIntegerField, parseNonNegativeIntegerField,
// parseBooleanField].
const FIELD_CASES: [
  string | undefined,
  number | undefined,
  number | undefined,
  boolean | undefined,
][] = [
  [undefined, undefined, undefined, undefined],
  ['', undefined, undefined, undefined],
  ['5', 5, 5, undefined],
  ['5;x=1', 5, 5, undefined],
  ['  5  ', 5, 5, undefined],
  ['0', 0, 0, undefined],
  ['-0', 0, 0, undefined],
  ['007', 7, 7, undefined],
  ['-5', -5, undefined, undefined],
  ['-5;a', -5, undefined, undefined],
  ['999999999999999', 999999999999999, 999999999999999, undefined],
  ['-999999999999999', -999999999999999, undefined, undefined],
  ['1234567890123456', undefined, undefined, undefined],
  ['1.5', undefined, undefined, undefined],
  ['5.0', undefined, undefined, undefined],
  ['5, 6', undefined, undefined, undefined],
  ['5, 5', undefined, undefined, undefined],
  ['\t5', undefined, undefined, undefined],
  ['5\t', undefined, undefined, undefined],
  ['"5"', undefined, undefined, undefined],
  ['five', undefined, undefined, undefined],
  ['+5', undefined, undefined, undefined],
  ['5;', undefined, undefined, undefined],
  ['5;X=1', undefined, undefined, undefined],
  ['@5', undefined, undefined, undefined],
  ['?1', undefined, undefined, true],
  ['?0', undefined, undefined, false],
  ['?1;a=1', undefined, undefined, true],
  [' ?1 ', undefined, undefined, true],
  ['?true', undefined, undefined, undefined],
  ['?1, ?0', undefined, undefined, undefined],
  ['?2', undefined, undefined, undefined],
  ['?', undefined, undefined, undefined],
  ['1', 1, 1, undefined],
  ['true', undefined, undefined, undefined],
  ['\u00e9', undefined, undefined, undefined],
]

/** Serialization cases: [name, value, expected output or the RangeError it must throw]. */
const SERIALIZE_CASES: [string, () => string, string | typeof RangeError][] = [
  [
    'integer max',
    () => serializeBareItem({ type: 'integer', value: 999_999_999_999_999 }),
    '999999999999999',
  ],
  [
    'integer min',
    () => serializeBareItem({ type: 'integer', value: -999_999_999_999_999 }),
    '-999999999999999',
  ],
  ['integer -0', () => serializeBareItem({ type: 'integer', value: -0 }), '0'],
  ['integer too big', () => serializeBareItem({ type: 'integer', value: 1e15 }), RangeError],
  ['integer too small', () => serializeBareItem({ type: 'integer', value: -1e15 }), RangeError],
  ['integer not integral', () => serializeBareItem({ type: 'integer', value: 1.5 }), RangeError],
  ['integer NaN', () => serializeBareItem({ type: 'integer', value: Number.NaN }), RangeError],
  [
    'integer Infinity',
    () => serializeBareItem({ type: 'integer', value: Number.POSITIVE_INFINITY }),
    RangeError,
  ],
  ['decimal integral', () => serializeBareItem({ type: 'decimal', value: 5 }), '5.0'],
  ['decimal -0', () => serializeBareItem({ type: 'decimal', value: -0 }), '0.0'],
  ['decimal 0.1 + 0.2', () => serializeBareItem({ type: 'decimal', value: 0.1 + 0.2 }), '0.3'],
  [
    'decimal rounds 12.3456 up',
    () => serializeBareItem({ type: 'decimal', value: 12.3456 }),
    '12.346',
  ],
  [
    'decimal rounds 12.3454 down',
    () => serializeBareItem({ type: 'decimal', value: 12.3454 }),
    '12.345',
  ],
  [
    'decimal half to even (down)',
    () => serializeBareItem({ type: 'decimal', value: 1.0005 }),
    '1.0',
  ],
  [
    'decimal half to even (up)',
    () => serializeBareItem({ type: 'decimal', value: 1.0015 }),
    '1.002',
  ],
  [
    'decimal above half rounds up',
    () => serializeBareItem({ type: 'decimal', value: 1.00051 }),
    '1.001',
  ],
  [
    'decimal 0.0005 rounds to zero',
    () => serializeBareItem({ type: 'decimal', value: 0.0005 }),
    '0.0',
  ],
  [
    'decimal -0.0004 rounds to unsigned zero',
    () => serializeBareItem({ type: 'decimal', value: -0.0004 }),
    '0.0',
  ],
  ['decimal tiny exponent form', () => serializeBareItem({ type: 'decimal', value: 1e-7 }), '0.0'],
  ['decimal negative tiny', () => serializeBareItem({ type: 'decimal', value: -2.5e-7 }), '0.0'],
  [
    'decimal max',
    () => serializeBareItem({ type: 'decimal', value: 999_999_999_999.999 }),
    '999999999999.999',
  ],
  [
    'decimal rounding overflows 12 digits',
    () => serializeBareItem({ type: 'decimal', value: 999_999_999_999.9999 }),
    RangeError,
  ],
  [
    'decimal 13 integer digits',
    () => serializeBareItem({ type: 'decimal', value: 1e12 }),
    RangeError,
  ],
  [
    'decimal huge exponent form',
    () => serializeBareItem({ type: 'decimal', value: 1e21 }),
    RangeError,
  ],
  ['decimal NaN', () => serializeBareItem({ type: 'decimal', value: Number.NaN }), RangeError],
  [
    'decimal -Infinity',
    () => serializeBareItem({ type: 'decimal', value: Number.NEGATIVE_INFINITY }),
    RangeError,
  ],
  ['string escapes', () => serializeBareItem({ type: 'string', value: 'a"b\\c' }), '"a\\"b\\\\c"'],
  ['string empty', () => serializeBareItem({ type: 'string', value: '' }), '""'],
  ['string with HTAB', () => serializeBareItem({ type: 'string', value: 'a\tb' }), RangeError],
  ['string with DEL', () => serializeBareItem({ type: 'string', value: '\u007f' }), RangeError],
  ['string non-ASCII', () => serializeBareItem({ type: 'string', value: '\u00fc' }), RangeError],
  ['token with : and /', () => serializeBareItem({ type: 'token', value: 'a/b:c' }), 'a/b:c'],
  ['token *', () => serializeBareItem({ type: 'token', value: '*' }), '*'],
  ['token empty', () => serializeBareItem({ type: 'token', value: '' }), RangeError],
  [
    'token starting with a digit',
    () => serializeBareItem({ type: 'token', value: '1a' }),
    RangeError,
  ],
  ['token with SP', () => serializeBareItem({ type: 'token', value: 'a b' }), RangeError],
  ['binary empty', () => serializeBareItem({ type: 'binary', value: new Uint8Array() }), '::'],
  [
    'binary 0xff',
    () => serializeBareItem({ type: 'binary', value: new Uint8Array([0xff]) }),
    ':/w==:',
  ],
  [
    'binary not bytes',
    () => serializeBareItem({ type: 'binary', value: [1] as unknown as Uint8Array }),
    RangeError,
  ],
  ['boolean true', () => serializeBareItem({ type: 'boolean', value: true }), '?1'],
  ['boolean false', () => serializeBareItem({ type: 'boolean', value: false }), '?0'],
  [
    'boolean not boolean',
    () => serializeBareItem({ type: 'boolean', value: 1 as unknown as boolean }),
    RangeError,
  ],
  ['date', () => serializeBareItem({ type: 'date', value: 1659578233 }), '@1659578233'],
  ['date negative', () => serializeBareItem({ type: 'date', value: -1 }), '@-1'],
  ['date not integral', () => serializeBareItem({ type: 'date', value: 1.5 }), RangeError],
  ['date out of range', () => serializeBareItem({ type: 'date', value: 1e15 }), RangeError],
  [
    'display string UTF-8',
    () => serializeBareItem({ type: 'displaystring', value: 'f\u00fc\u00fc' }),
    '%"f%c3%bc%c3%bc"',
  ],
  [
    'display string % and DQUOTE',
    () => serializeBareItem({ type: 'displaystring', value: '%"\\' }),
    '%"%25%22\\"',
  ],
  [
    'display string controls',
    () => serializeBareItem({ type: 'displaystring', value: '\n\u007f' }),
    '%"%0a%7f"',
  ],
  [
    'display string astral',
    () => serializeBareItem({ type: 'displaystring', value: '\u{1f600}' }),
    '%"%f0%9f%98%80"',
  ],
  [
    'display string lone high surrogate',
    () => serializeBareItem({ type: 'displaystring', value: 'a\ud800' }),
    RangeError,
  ],
  [
    'display string lone low surrogate',
    () => serializeBareItem({ type: 'displaystring', value: '\udc00a' }),
    RangeError,
  ],
  [
    'display string reversed pair',
    () => serializeBareItem({ type: 'displaystring', value: '\ude00\ud83d' }),
    RangeError,
  ],
  [
    'unknown bare item type',
    () => serializeBareItem({ type: 'float', value: 1 } as unknown as BareItem),
    RangeError,
  ],
  [
    'item with parameters',
    () =>
      serializeItem(
        item(
          integer(5),
          new Map([
            ['a', boolean(true)],
            ['b', boolean(false)],
          ]),
        ),
      ),
    '5;a;b=?0',
  ],
  [
    'item uppercase parameter key',
    () => serializeItem(item(integer(5), new Map([['A', integer(1)]]))),
    RangeError,
  ],
  [
    'item empty parameter key',
    () => serializeItem(item(integer(5), new Map([['', integer(1)]]))),
    RangeError,
  ],
  [
    'item given an Inner List',
    () => serializeItem({ kind: 'innerlist', items: [], params: new Map() } as unknown as Item),
    RangeError,
  ],
  ['empty list', () => serializeList([]), ''],
  [
    'list with nested Inner List',
    () =>
      serializeList([
        {
          kind: 'innerlist',
          items: [{ kind: 'innerlist', items: [], params: new Map() } as unknown as Item],
          params: new Map(),
        },
      ]),
    RangeError,
  ],
  ['empty dictionary', () => serializeDictionary(new Map()), ''],
  [
    'dictionary Boolean true with parameters',
    () => serializeDictionary(new Map([['a', item(boolean(true), new Map([['x', integer(1)]]))]])),
    'a;x=1',
  ],
  [
    'dictionary Boolean false',
    () => serializeDictionary(new Map([['a', item(boolean(false))]])),
    'a=?0',
  ],
  [
    'dictionary Inner List with parameters',
    () =>
      serializeDictionary(
        new Map([
          [
            'a',
            {
              kind: 'innerlist',
              items: [item(integer(1)), item(token('b'))],
              params: new Map([['c', boolean(true)]]),
            },
          ],
        ]),
      ),
    'a=(1 b);c',
  ],
  [
    'dictionary key with uppercase',
    () => serializeDictionary(new Map([['A', item(integer(1))]])),
    RangeError,
  ],
  [
    'dictionary key starting with a digit',
    () => serializeDictionary(new Map([['1a', item(integer(1))]])),
    RangeError,
  ],
  [
    'dictionary empty key',
    () => serializeDictionary(new Map([['', item(integer(1))]])),
    RangeError,
  ],
]

// RFC 4648 §10 test vectors, plus the decodeBase64 rejections.
const BASE64_VECTORS: [string, string][] = [
  ['', ''],
  ['f', 'Zg=='],
  ['fo', 'Zm8='],
  ['foo', 'Zm9v'],
  ['foob', 'Zm9vYg=='],
  ['fooba', 'Zm9vYmE='],
  ['foobar', 'Zm9vYmFy'],
]

const BASE64_INVALID: [string, string][] = [
  ['missing padding', 'Zg'],
  ['partial padding', 'Zg='],
  ['missing padding (3 chars)', 'Zm8'],
  ['length 1 mod 4', 'Zm9vY'],
  ['three padding characters', 'Z==='],
  ['only padding', '===='],
  ['padding at the start', '=Zg='],
  ['padding in the middle', 'Zg==Zg=='],
  ['non-zero pad bits (2 chars)', 'Zh=='],
  ['non-zero pad bits (3 chars)', 'Zm9='],
  ['SP', 'Zm9v YmFy'],
  ['line break', 'Zm9v\nYmFy'],
  ['base64url -', 'Zm9-'],
  ['base64url _', 'Zm9_'],
  ['dot', 'Zm9.'],
  ['non-ASCII', 'Zm9\u00fc'],
  ['data URL prefix', 'data:Zm9v'],
]

// ---------------------------------------------------------------------------------------------

describe('httpwg/structured-field-tests', () => {
  for (const [file, cases] of Object.entries(SUITE)) {
    describe(file, () => {
      for (const c of cases) it(c.name, () => runSuiteCase(c))
    })
  }
  describe('serialisation-tests/number.json', () => {
    for (const c of SERIALISATION_SUITE) it(c.name, () => runSuiteCase(c))
  })
  describe('generated families (each runs every case of the family)', () => {
    for (const [family, build] of GENERATED_FAMILIES) {
      const cases = build()
      it(`${family}: ${cases.length} cases`, () => {
        for (const c of cases) runSuiteCase(c)
      })
    }
  })
})

describe('RFC 9651 text and Ferry fields', () => {
  for (const c of RFC_AND_FERRY_CASES) it(`[${c.header_type}] ${c.name}`, () => runSuiteCase(c))
})

describe('field accessors', () => {
  for (const [input, int, nonNegative, bool] of FIELD_CASES) {
    it(`${JSON.stringify(input)} → ${int}, ${nonNegative}, ${bool}`, () => {
      assert.equal(parseIntegerField(input), int)
      assert.equal(parseNonNegativeIntegerField(input), nonNegative)
      assert.equal(parseBooleanField(input), bool)
    })
  }
})

describe('serialization (RFC 9651 §4.1)', () => {
  for (const [name, run, expected] of SERIALIZE_CASES) {
    it(name, () => {
      if (typeof expected === 'string') assert.equal(run(), expected)
      else assert.throws(run, expected)
    })
  }
})

describe('base64 helpers', () => {
  for (const [text, encoded] of BASE64_VECTORS) {
    it(`RFC 4648 §10: ${JSON.stringify(text)} ↔ ${JSON.stringify(encoded)}`, () => {
      const bytes = new Uint8Array([...text].map((ch) => ch.charCodeAt(0)))
      assert.equal(encodeBase64(bytes), encoded)
      assert.deepEqual(decodeBase64(encoded), bytes)
    })
  }
  for (const [name, text] of BASE64_INVALID) {
    it(`decodeBase64 rejects ${name}: ${JSON.stringify(text)}`, () => {
      assert.equal(decodeBase64(text), undefined)
    })
  }
  it('round-trips every byte value at every length modulo 3', () => {
    for (let length = 0; length <= 258; length++) {
      const bytes = new Uint8Array(length)
      for (let i = 0; i < length; i++) bytes[i] = (i * 37 + length) & 255
      const encoded = encodeBase64(bytes)
      assert.equal(encoded.length, Math.ceil(length / 3) * 4)
      assert.deepEqual(decodeBase64(encoded), bytes)
      const parsed = parseItem(`:${encoded}:`)
      assert.deepEqual(parsed?.value, { type: 'binary', value: bytes })
    }
  })
})

describe('constructors', () => {
  it('integer() accepts the full range and drops -0', () => {
    assert.deepEqual(integer(999_999_999_999_999), { type: 'integer', value: 999_999_999_999_999 })
    assert.deepEqual(integer(-999_999_999_999_999), {
      type: 'integer',
      value: -999_999_999_999_999,
    })
    assert.equal(Object.is(integer(-0).value, 0), true, 'integer(-0) must give +0')
  })
  for (const bad of [
    1e15,
    -1e15,
    1.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.MAX_SAFE_INTEGER,
  ]) {
    it(`integer(${bad}) throws RangeError`, () => assert.throws(() => integer(bad), RangeError))
  }
  it('token() and string() validate', () => {
    assert.deepEqual(token('foo/bar'), { type: 'token', value: 'foo/bar' })
    assert.throws(() => token('1a'), RangeError)
    assert.throws(() => token(''), RangeError)
    assert.deepEqual(string('a "b"'), { type: 'string', value: 'a "b"' })
    assert.throws(() => string('a\nb'), RangeError)
  })
  it('boolean(), binary() and item()', () => {
    const bytes = new Uint8Array([1, 2])
    assert.deepEqual(boolean(false), { type: 'boolean', value: false })
    assert.equal(binary(bytes).value, bytes)
    assert.deepEqual(item(integer(1)), { kind: 'item', value: integer(1), params: new Map() })
    const params: Parameters = new Map([['a', integer(2)]])
    assert.equal(item(integer(1), params).params, params)
    assert.equal(serializeItem(item(binary(bytes), params)), ':AQI=:;a=2')
  })
})
