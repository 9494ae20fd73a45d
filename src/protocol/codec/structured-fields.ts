/** @module Structured Field Values for HTTP (RFC 9651): strict parser, serializer and codecs. */

// RFC 9651 §3: the data model.

/** A Bare Item (RFC 9651 §3.3): the value of an Item or Parameter, without parameters. */
export type BareItem =
  | { type: 'integer'; value: number }
  | { type: 'decimal'; value: number }
  | { type: 'string'; value: string }
  | { type: 'token'; value: string }
  | { type: 'binary'; value: Uint8Array }
  | { type: 'boolean'; value: boolean }
  | { type: 'date'; value: number }
  | { type: 'displaystring'; value: string }

/** Parameters (RFC 9651 §3.1.2): ordered key/value pairs; insertion order is wire order. */
export type Parameters = Map<string, BareItem>

/** An Item (RFC 9651 §3.3): a Bare Item with Parameters. */
export interface Item {
  kind: 'item'
  value: BareItem
  params: Parameters
}

/** An Inner List (RFC 9651 §3.1.1): a parenthesised list of Items with Parameters. */
export interface InnerList {
  kind: 'innerlist'
  items: Item[]
  params: Parameters
}

/** A member of a List or Dictionary: an Item or an Inner List. */
export type ListMember = Item | InnerList

/** A List (RFC 9651 §3.1). */
export type List = ListMember[]

/** A Dictionary (RFC 9651 §3.2): ordered; insertion order is wire order. */
export type Dictionary = Map<string, ListMember>

// Character codes and classes (RFC 9651 §3 ABNF, RFC 9110 §5.6.2 tchar).

const HTAB = 0x09
const SP = 0x20
const DQUOTE = 0x22
const PERCENT = 0x25
const OPEN_PAREN = 0x28
const CLOSE_PAREN = 0x29
const ASTERISK = 0x2a
const COMMA = 0x2c
const MINUS = 0x2d
const DOT = 0x2e
const SLASH = 0x2f
const COLON = 0x3a
const SEMICOLON = 0x3b
const EQUALS = 0x3d
const QUESTION = 0x3f
const AT = 0x40
const BACKSLASH = 0x5c

/** Largest magnitude of an sf-integer and sf-date (RFC 9651 §3.3.1). */
const MAX_INTEGER = 999_999_999_999_999

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a
}

function isAlpha(c: number): boolean {
  return isLcAlpha(c) || (c >= 0x41 && c <= 0x5a)
}

/** VCHAR or SP: the characters allowed unescaped in sf-string and sf-displaystring. */
function isPrintable(c: number): boolean {
  return c >= 0x20 && c <= 0x7e
}

const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~"

/** RFC 9110 §5.6.2 tchar. */
function isTchar(c: number): boolean {
  return isDigit(c) || isAlpha(c) || (c < 0x80 && TCHAR_SYMBOLS.includes(String.fromCharCode(c)))
}

// RFC 9651 §3.3.4: sf-token = ( ALPHA / "*" ) *( tchar / ":" / "/" )
function isTokenStart(c: number): boolean {
  return isAlpha(c) || c === ASTERISK
}

function isTokenChar(c: number): boolean {
  return isTchar(c) || c === COLON || c === SLASH
}

// RFC 9651 §3.1.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )
function isKeyStart(c: number): boolean {
  return isLcAlpha(c) || c === ASTERISK
}

function isKeyChar(c: number): boolean {
  return isLcAlpha(c) || isDigit(c) || c === 0x5f || c === MINUS || c === DOT || c === ASTERISK
}

function isValidToken(value: string): boolean {
  if (value.length === 0 || !isTokenStart(value.charCodeAt(0))) return false
  for (let i = 1; i < value.length; i++) if (!isTokenChar(value.charCodeAt(i))) return false
  return true
}

function isValidString(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (!isPrintable(value.charCodeAt(i))) return false
  return true
}

function isValidInteger(value: number): boolean {
  return Number.isInteger(value) && Math.abs(value) <= MAX_INTEGER
}

/** -0 is not a distinct value in Structured Fields; keep the data model free of it. */
function withoutNegativeZero(value: number): number {
  return value === 0 ? 0 : value
}

function booleanTrue(): BareItem {
  return { type: 'boolean', value: true }
}

// Base64 (RFC 4648 §4, standard alphabet, used by RFC 9651 §3.3.5).

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

/** Sextet value of each ASCII code, or -1 when it is not in the base64 alphabet. */
const BASE64_VALUES = new Int8Array(128).fill(-1)
for (let i = 0; i < BASE64_ALPHABET.length; i++) BASE64_VALUES[BASE64_ALPHABET.charCodeAt(i)] = i

function sextet(text: string, index: number): number {
  const c = text.charCodeAt(index)
  return c < 128 ? (BASE64_VALUES[c] ?? -1) : -1
}

/** Encodes bytes as padded standard base64 (RFC 4648 §4). */
export function encodeBase64(bytes: Uint8Array): string {
  let out = ''
  const whole = bytes.length - (bytes.length % 3)
  for (let i = 0; i < whole; i += 3) {
    const n = ((bytes[i] ?? 0) << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0)
    out +=
      BASE64_ALPHABET.charAt(n >> 18) +
      BASE64_ALPHABET.charAt((n >> 12) & 63) +
      BASE64_ALPHABET.charAt((n >> 6) & 63) +
      BASE64_ALPHABET.charAt(n & 63)
  }
  const rest = bytes.length - whole
  if (rest === 1) {
    const n = (bytes[whole] ?? 0) << 16
    out += `${BASE64_ALPHABET.charAt(n >> 18)}${BASE64_ALPHABET.charAt((n >> 12) & 63)}==`
  } else if (rest === 2) {
    const n = ((bytes[whole] ?? 0) << 16) | ((bytes[whole + 1] ?? 0) << 8)
    out +=
      BASE64_ALPHABET.charAt(n >> 18) +
      BASE64_ALPHABET.charAt((n >> 12) & 63) +
      BASE64_ALPHABET.charAt((n >> 6) & 63) +
      '='
  }
  return out
}

/**
 * Decodes padded base64. The length must be a multiple of 4, "=" may only end the text (at most
 * two), and every other character must be in the standard alphabet. When `strictPadBits` is set,
 * non-zero pad bits (RFC 4648 §3.5) are rejected too.
 */
function decodePaddedBase64(text: string, strictPadBits: boolean): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - pad)
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    const groupPad = i + 4 === text.length ? pad : 0
    const a = sextet(text, i)
    const b = sextet(text, i + 1)
    const c = groupPad === 2 ? 0 : sextet(text, i + 2)
    const d = groupPad >= 1 ? 0 : sextet(text, i + 3)
    if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
    if (
      strictPadBits &&
      ((groupPad === 2 && (b & 15) !== 0) || (groupPad === 1 && (c & 3) !== 0))
    ) {
      return undefined
    }
    const n = (a << 18) | (b << 12) | (c << 6) | d
    out[o++] = n >> 16
    if (groupPad < 2) out[o++] = (n >> 8) & 255
    if (groupPad < 1) out[o++] = n & 255
  }
  return out
}

/** Decodes strict padded base64 (RFC 4648 §4, zero pad bits); undefined on any invalid input. */
export function decodeBase64(text: string): Uint8Array | undefined {
  return decodePaddedBase64(text, true)
}

/** The content between the colons of an sf-binary, decoded as RFC 9651 §4.2.7 asks. */
function decodeByteSequenceContent(content: string): Uint8Array | undefined {
  // RFC 9651 §4.2.7 step 6: only ALPHA, DIGIT, "+", "/" and "=" may appear.
  for (let i = 0; i < content.length; i++) {
    if (sextet(content, i) < 0 && content.charCodeAt(i) !== EQUALS) return undefined
  }
  // RFC 9651 §4.2.7 step 7: synthesise missing "=" padding, and tolerate non-zero pad bits
  // (parsers SHOULD NOT fail on either). "=" anywhere but at the end still fails.
  const missing = (4 - (content.length % 4)) % 4
  return decodePaddedBase64(content + '='.repeat(missing), false)
}

// UTF-8 (RFC 3629), used by Display Strings (RFC 9651 §4.1.11, §4.2.10).

/** UTF-8 bytes of a string; undefined if it holds a lone surrogate (not Unicode scalar values). */
function encodeUtf8(text: string): number[] | undefined {
  const bytes: number[] = []
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i)
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const low = text.charCodeAt(i + 1)
      if (cp > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return undefined
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00)
      i++
    }
    if (cp < 0x80) bytes.push(cp)
    else if (cp < 0x800) bytes.push(0xc0 | (cp >> 6), 0x80 | (cp & 63))
    else if (cp < 0x10000) bytes.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63))
    else {
      bytes.push(
        0xf0 | (cp >> 18),
        0x80 | ((cp >> 12) & 63),
        0x80 | ((cp >> 6) & 63),
        0x80 | (cp & 63),
      )
    }
  }
  return bytes
}

/**
 * Strict UTF-8 decoding (RFC 3629 §4): rejects overlong forms, surrogates, code points above
 * U+10FFFF and truncated sequences. A leading BOM is kept as U+FEFF.
 */
function decodeUtf8(bytes: readonly number[]): string | undefined {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const b0 = bytes[i] ?? 0
    if (b0 < 0x80) {
      out += String.fromCharCode(b0)
      i++
      continue
    }
    let count: number
    let min: number
    let cp: number
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      count = 1
      min = 0x80
      cp = b0 & 0x1f
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      count = 2
      min = 0x800
      cp = b0 & 0x0f
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      count = 3
      min = 0x10000
      cp = b0 & 0x07
    } else {
      return undefined
    }
    if (i + count >= bytes.length) return undefined // Truncated sequence.
    for (let k = 1; k <= count; k++) {
      const b = bytes[i + k] ?? 0
      if ((b & 0xc0) !== 0x80) return undefined
      cp = (cp << 6) | (b & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return undefined
    out += String.fromCodePoint(cp)
    i += count + 1
  }
  return out
}

// Parsing (RFC 9651 §4.2). Every step function returns undefined on failure; the caller then
// ignores the whole field value.

/** The input being parsed and the position of its first unconsumed character. */
interface Cursor {
  readonly text: string
  pos: number
}

/** Code of the first unconsumed character, NaN when the input is exhausted. */
function peek(cursor: Cursor): number {
  return cursor.text.charCodeAt(cursor.pos)
}

function atEnd(cursor: Cursor): boolean {
  return cursor.pos >= cursor.text.length
}

function skipSP(cursor: Cursor): void {
  while (peek(cursor) === SP) cursor.pos++
}

// OWS = *( SP / HTAB ) (RFC 9110 §5.6.3)
function skipOWS(cursor: Cursor): void {
  for (let c = peek(cursor); c === SP || c === HTAB; c = peek(cursor)) cursor.pos++
}

// RFC 9651 §4.2: the top-level algorithm shared by the three field types.
function parseField<T>(input: string, parse: (cursor: Cursor) => T | undefined): T | undefined {
  if (typeof input !== 'string') return undefined
  // Step 1: the field value must convert to ASCII.
  for (let i = 0; i < input.length; i++) if (input.charCodeAt(i) > 0x7f) return undefined
  const cursor: Cursor = { text: input, pos: 0 }
  skipSP(cursor) // Step 2: leading SP only (not HTAB).
  const output = parse(cursor)
  if (output === undefined) return undefined
  skipSP(cursor) // Step 6: trailing SP only.
  return atEnd(cursor) ? output : undefined // Step 7
}

// RFC 9651 §4.2.1
function parseListMembers(cursor: Cursor): List | undefined {
  const members: List = []
  while (!atEnd(cursor)) {
    const member = parseItemOrInnerList(cursor)
    if (member === undefined) return undefined
    members.push(member)
    skipOWS(cursor)
    if (atEnd(cursor)) return members
    if (peek(cursor) !== COMMA) return undefined
    cursor.pos++
    skipOWS(cursor)
    if (atEnd(cursor)) return undefined // Trailing comma.
  }
  return members // Empty field value: an empty List.
}

// RFC 9651 §4.2.1.1
function parseItemOrInnerList(cursor: Cursor): ListMember | undefined {
  return peek(cursor) === OPEN_PAREN ? parseInnerList(cursor) : parseItemAt(cursor)
}

// RFC 9651 §4.2.1.2
function parseInnerList(cursor: Cursor): InnerList | undefined {
  if (peek(cursor) !== OPEN_PAREN) return undefined
  cursor.pos++
  const items: Item[] = []
  while (!atEnd(cursor)) {
    skipSP(cursor)
    if (peek(cursor) === CLOSE_PAREN) {
      cursor.pos++
      const params = parseParameters(cursor)
      if (params === undefined) return undefined
      return { kind: 'innerlist', items, params }
    }
    const member = parseItemAt(cursor)
    if (member === undefined) return undefined
    items.push(member)
    const next = peek(cursor)
    if (next !== SP && next !== CLOSE_PAREN) return undefined
  }
  return undefined // The end of the Inner List was not found.
}

// RFC 9651 §4.2.2
function parseDictionaryMembers(cursor: Cursor): Dictionary | undefined {
  const dictionary: Dictionary = new Map()
  while (!atEnd(cursor)) {
    const key = parseKey(cursor)
    if (key === undefined) return undefined
    let member: ListMember | undefined
    if (peek(cursor) === EQUALS) {
      cursor.pos++
      member = parseItemOrInnerList(cursor)
    } else {
      // A member without a value is Boolean true, possibly with Parameters.
      const params = parseParameters(cursor)
      member = params === undefined ? undefined : { kind: 'item', value: booleanTrue(), params }
    }
    if (member === undefined) return undefined
    // Steps 2.4 and 2.5: a duplicate key overwrites the earlier value in place, so the member
    // keeps the position of its first occurrence (Map#set does exactly that); only the last
    // value survives (§3.2: "all but the last instance are ignored").
    dictionary.set(key, member)
    skipOWS(cursor)
    if (atEnd(cursor)) return dictionary
    if (peek(cursor) !== COMMA) return undefined
    cursor.pos++
    skipOWS(cursor)
    if (atEnd(cursor)) return undefined // Trailing comma.
  }
  return dictionary // Empty field value: an empty Dictionary.
}

// RFC 9651 §4.2.3
function parseItemAt(cursor: Cursor): Item | undefined {
  const value = parseBareItem(cursor)
  if (value === undefined) return undefined
  const params = parseParameters(cursor)
  if (params === undefined) return undefined
  return { kind: 'item', value, params }
}

// RFC 9651 §4.2.3.1
function parseBareItem(cursor: Cursor): BareItem | undefined {
  const c = peek(cursor)
  if (c === MINUS || isDigit(c)) return parseNumber(cursor)
  if (c === DQUOTE) return parseString(cursor)
  if (isTokenStart(c)) return parseToken(cursor)
  if (c === COLON) return parseByteSequence(cursor)
  if (c === QUESTION) return parseBoolean(cursor)
  if (c === AT) return parseDate(cursor)
  if (c === PERCENT) return parseDisplayString(cursor)
  return undefined
}

// RFC 9651 §4.2.3.2
function parseParameters(cursor: Cursor): Parameters | undefined {
  const params: Parameters = new Map()
  while (peek(cursor) === SEMICOLON) {
    cursor.pos++
    skipSP(cursor)
    const key = parseKey(cursor)
    if (key === undefined) return undefined
    let value: BareItem | undefined = booleanTrue()
    if (peek(cursor) === EQUALS) {
      cursor.pos++
      value = parseBareItem(cursor)
      if (value === undefined) return undefined
    }
    // Steps 2.7 and 2.8: a duplicate key overwrites in place (first position, last value).
    params.set(key, value)
  }
  return params
}

// RFC 9651 §4.2.3.3
function parseKey(cursor: Cursor): string | undefined {
  if (!isKeyStart(peek(cursor))) return undefined
  const start = cursor.pos
  cursor.pos++
  while (isKeyChar(peek(cursor))) cursor.pos++
  return cursor.text.slice(start, cursor.pos)
}

// RFC 9651 §4.2.4
function parseNumber(cursor: Cursor): BareItem | undefined {
  let isDecimal = false
  let sign = 1
  if (peek(cursor) === MINUS) {
    cursor.pos++
    sign = -1
  }
  if (atEnd(cursor)) return undefined // Empty integer.
  if (!isDigit(peek(cursor))) return undefined
  const start = cursor.pos
  let length = 0 // Characters in input_number, the "." included.
  while (!atEnd(cursor)) {
    const c = peek(cursor)
    if (isDigit(c)) {
      length++
    } else if (!isDecimal && c === DOT) {
      if (length > 12) return undefined // At most 12 integer digits in a Decimal.
      length++
      isDecimal = true
    } else {
      break // The character is left in place for the caller.
    }
    cursor.pos++
    if (!isDecimal && length > 15) return undefined
    if (isDecimal && length > 16) return undefined
  }
  const digits = cursor.text.slice(start, cursor.pos)
  if (!isDecimal) return { type: 'integer', value: withoutNegativeZero(sign * Number(digits)) }
  const fractionDigits = digits.length - digits.indexOf('.') - 1
  if (fractionDigits === 0) return undefined // Step 9.1: trailing ".".
  if (fractionDigits > 3) return undefined // Step 9.2
  return { type: 'decimal', value: withoutNegativeZero(sign * Number(digits)) }
}

// RFC 9651 §4.2.5
function parseString(cursor: Cursor): BareItem | undefined {
  if (peek(cursor) !== DQUOTE) return undefined
  cursor.pos++
  let output = ''
  let runStart = cursor.pos // Start of the pending run of plain characters.
  while (!atEnd(cursor)) {
    const c = peek(cursor)
    if (c === BACKSLASH) {
      output += cursor.text.slice(runStart, cursor.pos)
      cursor.pos++
      const next = peek(cursor) // NaN at the end of input: fails below.
      if (next !== DQUOTE && next !== BACKSLASH) return undefined
      output += String.fromCharCode(next)
      cursor.pos++
      runStart = cursor.pos
    } else if (c === DQUOTE) {
      output += cursor.text.slice(runStart, cursor.pos)
      cursor.pos++
      return { type: 'string', value: output }
    } else if (!isPrintable(c)) {
      return undefined
    } else {
      cursor.pos++
    }
  }
  return undefined // No closing DQUOTE.
}

// RFC 9651 §4.2.6
function parseToken(cursor: Cursor): BareItem | undefined {
  if (!isTokenStart(peek(cursor))) return undefined
  const start = cursor.pos
  cursor.pos++
  while (isTokenChar(peek(cursor))) cursor.pos++
  return { type: 'token', value: cursor.text.slice(start, cursor.pos) }
}

// RFC 9651 §4.2.7
function parseByteSequence(cursor: Cursor): BareItem | undefined {
  if (peek(cursor) !== COLON) return undefined
  const end = cursor.text.indexOf(':', cursor.pos + 1)
  if (end === -1) return undefined // No closing ":".
  const bytes = decodeByteSequenceContent(cursor.text.slice(cursor.pos + 1, end))
  if (bytes === undefined) return undefined
  cursor.pos = end + 1
  return { type: 'binary', value: bytes }
}

// RFC 9651 §4.2.8
function parseBoolean(cursor: Cursor): BareItem | undefined {
  if (peek(cursor) !== QUESTION) return undefined
  const c = cursor.text.charCodeAt(cursor.pos + 1)
  if (c !== 0x30 && c !== 0x31) return undefined // Only "?0" and "?1".
  cursor.pos += 2
  return { type: 'boolean', value: c === 0x31 }
}

// RFC 9651 §4.2.9
function parseDate(cursor: Cursor): BareItem | undefined {
  if (peek(cursor) !== AT) return undefined
  cursor.pos++
  const n = parseNumber(cursor)
  if (n === undefined || n.type !== 'integer') return undefined // A Decimal is a failure.
  return { type: 'date', value: n.value }
}

/** Value of a lowercase hex digit (0-9, a-f), else -1 (RFC 9651 §4.2.10 step 4.3.2). */
function lowerHexValue(c: number): number {
  if (isDigit(c)) return c - 0x30
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10
  return -1
}

// RFC 9651 §4.2.10
function parseDisplayString(cursor: Cursor): BareItem | undefined {
  if (peek(cursor) !== PERCENT || cursor.text.charCodeAt(cursor.pos + 1) !== DQUOTE) {
    return undefined
  }
  cursor.pos += 2
  const bytes: number[] = []
  while (!atEnd(cursor)) {
    const c = peek(cursor)
    cursor.pos++
    if (!isPrintable(c)) return undefined
    if (c === PERCENT) {
      const high = lowerHexValue(cursor.text.charCodeAt(cursor.pos))
      const low = lowerHexValue(cursor.text.charCodeAt(cursor.pos + 1))
      if (high < 0 || low < 0) return undefined // Missing, uppercase or non-hex digits.
      bytes.push(high * 16 + low)
      cursor.pos += 2
    } else if (c === DQUOTE) {
      const value = decodeUtf8(bytes)
      if (value === undefined) return undefined // Invalid UTF-8.
      return { type: 'displaystring', value }
    } else {
      bytes.push(c)
    }
  }
  return undefined // No closing DQUOTE.
}

/** Parses an Item field value (RFC 9651 §4.2); undefined when the field must be ignored. */
export function parseItem(input: string): Item | undefined {
  return parseField(input, parseItemAt)
}

/** Parses a List field value (RFC 9651 §4.2); an empty value is an empty List. */
export function parseList(input: string): List | undefined {
  return parseField(input, parseListMembers)
}

/** Parses a Dictionary field value (RFC 9651 §4.2); an empty value is an empty Dictionary. */
export function parseDictionary(input: string): Dictionary | undefined {
  return parseField(input, parseDictionaryMembers)
}

// Serialization (RFC 9651 §4.1). Values that cannot be serialized throw a RangeError.

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value)
  return typeof value
}

// RFC 9651 §4.1.1
function serializeMember(member: ListMember): string {
  if (member.kind === 'innerlist') return serializeInnerList(member)
  return serializeItem(member)
}

// RFC 9651 §4.1.1.1
function serializeInnerList(list: InnerList): string {
  if (!Array.isArray(list.items)) throw new RangeError('Inner List items must be an array')
  return `(${list.items.map(serializeItem).join(' ')})${serializeParameters(list.params)}`
}

// RFC 9651 §4.1.1.2
function serializeParameters(params: Parameters): string {
  if (!(params instanceof Map)) throw new RangeError('Parameters must be a Map')
  let output = ''
  for (const [key, value] of params) {
    output += `;${serializeKey(key)}`
    if (!(value.type === 'boolean' && value.value === true)) {
      output += `=${serializeBareItem(value)}`
    }
  }
  return output
}

// RFC 9651 §4.1.1.3
function serializeKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0 || !isKeyStart(key.charCodeAt(0))) {
    throw new RangeError(`Invalid Structured Field key ${show(key)}`)
  }
  for (let i = 1; i < key.length; i++) {
    if (!isKeyChar(key.charCodeAt(i))) {
      throw new RangeError(`Invalid Structured Field key ${show(key)}`)
    }
  }
  return key
}

// RFC 9651 §4.1.4
function serializeInteger(value: number): string {
  if (typeof value !== 'number' || !isValidInteger(value)) {
    throw new RangeError(`Integer out of range for a Structured Field: ${show(value)}`)
  }
  return String(withoutNegativeZero(value))
}

/** Digits of a finite non-negative number split at the point: 1e-7 → ["0", "0000001"]. */
function plainDigits(value: number): [string, string] {
  const text = String(value)
  const e = text.indexOf('e')
  if (e === -1) {
    const dot = text.indexOf('.')
    return dot === -1 ? [text, ''] : [text.slice(0, dot), text.slice(dot + 1)]
  }
  const mantissa = text.slice(0, e)
  const exponent = Number(text.slice(e + 1))
  const dot = mantissa.indexOf('.')
  const digits = mantissa.replace('.', '')
  const point = (dot === -1 ? mantissa.length : dot) + exponent
  if (point <= 0) return ['0', '0'.repeat(-point) + digits]
  if (point >= digits.length) return [digits + '0'.repeat(point - digits.length), '']
  return [digits.slice(0, point), digits.slice(point)]
}

/** Adds one unit in the last place to a string of decimal digits. */
function incrementDigits(digits: string): string {
  let i = digits.length - 1
  while (i >= 0 && digits.charCodeAt(i) === 0x39) i--
  if (i < 0) return `1${'0'.repeat(digits.length)}`
  const bumped = String.fromCharCode(digits.charCodeAt(i) + 1)
  return digits.slice(0, i) + bumped + '0'.repeat(digits.length - i - 1)
}

// RFC 9651 §4.1.5. Rounding works on the shortest decimal representation of the number (what
// the sender wrote), so 0.0025 is treated as exactly halfway and rounds to the even 0.002.
function serializeDecimal(value: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`Not a decimal number: ${show(value)}`)
  }
  let [integerPart, fraction] = plainDigits(Math.abs(value))
  if (fraction.length > 3) {
    const next = fraction.charCodeAt(3) - 0x30
    const beyond = /[1-9]/.test(fraction.slice(4))
    const lastIsOdd = (fraction.charCodeAt(2) - 0x30) % 2 === 1
    fraction = fraction.slice(0, 3)
    // Step 2: round to three places, half to even.
    if (next > 5 || (next === 5 && (beyond || lastIsOdd))) {
      const bumped = incrementDigits(integerPart + fraction)
      integerPart = bumped.slice(0, -3)
      fraction = bumped.slice(-3)
    }
  }
  integerPart = integerPart.replace(/^0+(?=\d)/, '')
  if (integerPart.length > 12) {
    throw new RangeError(`Decimal out of range for a Structured Field: ${show(value)}`)
  }
  fraction = fraction.replace(/0+$/, '')
  const negative = value < 0 && (integerPart !== '0' || fraction !== '')
  return `${negative ? '-' : ''}${integerPart}.${fraction === '' ? '0' : fraction}`
}

// RFC 9651 §4.1.6
function serializeString(value: string): string {
  if (typeof value !== 'string' || !isValidString(value)) {
    throw new RangeError(`String not serializable as a Structured Field: ${show(value)}`)
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`
}

// RFC 9651 §4.1.7
function serializeToken(value: string): string {
  if (typeof value !== 'string' || !isValidToken(value)) {
    throw new RangeError(`Invalid Structured Field token ${show(value)}`)
  }
  return value
}

// RFC 9651 §4.1.8
function serializeByteSequence(value: Uint8Array): string {
  if (!(value instanceof Uint8Array)) throw new RangeError('Byte Sequence must be a Uint8Array')
  return `:${encodeBase64(value)}:`
}

// RFC 9651 §4.1.9
function serializeBoolean(value: boolean): string {
  if (typeof value !== 'boolean') throw new RangeError(`Not a boolean: ${show(value)}`)
  return value ? '?1' : '?0'
}

// RFC 9651 §4.1.10
function serializeDate(value: number): string {
  return `@${serializeInteger(value)}`
}

// RFC 9651 §4.1.11
function serializeDisplayString(value: string): string {
  const bytes = typeof value === 'string' ? encodeUtf8(value) : undefined
  if (bytes === undefined) {
    throw new RangeError('Display String must be a string of Unicode scalar values')
  }
  let output = '%"'
  for (const byte of bytes) {
    if (byte === PERCENT || byte === DQUOTE || !isPrintable(byte)) {
      output += `%${byte.toString(16).padStart(2, '0')}`
    } else {
      output += String.fromCharCode(byte)
    }
  }
  return `${output}"`
}

/** Serializes a Bare Item (RFC 9651 §4.1.3.1); throws RangeError when it is not serializable. */
export function serializeBareItem(value: BareItem): string {
  switch (value.type) {
    case 'integer':
      return serializeInteger(value.value)
    case 'decimal':
      return serializeDecimal(value.value)
    case 'string':
      return serializeString(value.value)
    case 'token':
      return serializeToken(value.value)
    case 'binary':
      return serializeByteSequence(value.value)
    case 'boolean':
      return serializeBoolean(value.value)
    case 'date':
      return serializeDate(value.value)
    case 'displaystring':
      return serializeDisplayString(value.value)
    default:
      throw new RangeError(`Unknown Bare Item type ${show((value as { type: unknown }).type)}`)
  }
}

/** Serializes an Item with its Parameters (RFC 9651 §4.1.3); throws RangeError when invalid. */
export function serializeItem(item: Item): string {
  if (item.kind !== 'item') throw new RangeError(`Expected an Item, got ${show(item.kind)}`)
  return serializeBareItem(item.value) + serializeParameters(item.params)
}

/** Serializes a List (RFC 9651 §4.1.1); "" for an empty List, whose field must be omitted. */
export function serializeList(list: List): string {
  return list.map(serializeMember).join(', ')
}

/** Serializes a Dictionary (RFC 9651 §4.1.2); "" when empty, and the field must be omitted. */
export function serializeDictionary(dict: Dictionary): string {
  const members: string[] = []
  for (const [key, member] of dict) {
    if (member.kind === 'item' && member.value.type === 'boolean' && member.value.value === true) {
      members.push(serializeKey(key) + serializeParameters(member.params)) // Step 2.2: no "=?1".
    } else {
      members.push(`${serializeKey(key)}=${serializeMember(member)}`)
    }
  }
  return members.join(', ')
}

// Convenience constructors and accessors.

/** An Item from a Bare Item and optional Parameters (none by default). */
export function item(value: BareItem, params?: Parameters): Item {
  return { kind: 'item', value, params: params ?? new Map() }
}

/** An Integer Bare Item; throws RangeError unless an integer within ±999,999,999,999,999. */
export function integer(value: number): BareItem {
  if (typeof value !== 'number' || !isValidInteger(value)) {
    throw new RangeError(`Integer out of range for a Structured Field: ${show(value)}`)
  }
  return { type: 'integer', value: withoutNegativeZero(value) }
}

/** A Boolean Bare Item. */
export function boolean(value: boolean): BareItem {
  return { type: 'boolean', value }
}

/** A Token Bare Item; throws RangeError unless the text is a valid sf-token (RFC 9651 §3.3.4). */
export function token(value: string): BareItem {
  serializeToken(value)
  return { type: 'token', value }
}

/** A String Bare Item; throws RangeError unless the text is printable ASCII (RFC 9651 §3.3.3). */
export function string(value: string): BareItem {
  serializeString(value)
  return { type: 'string', value }
}

/** A Byte Sequence Bare Item holding the given bytes (not copied). */
export function binary(value: Uint8Array): BareItem {
  return { type: 'binary', value }
}

/** The Integer of an Item field, ignoring parameters; undefined if absent or not an sf-integer. */
export function parseIntegerField(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const bare = parseItem(value)?.value
  return bare?.type === 'integer' ? bare.value : undefined
}

/** Same for a non-negative Integer (what Upload-Offset / Upload-Length need). */
export function parseNonNegativeIntegerField(value: string | undefined): number | undefined {
  const n = parseIntegerField(value)
  return n !== undefined && n >= 0 ? n : undefined
}

/** The Boolean of an Item field, ignoring parameters; undefined if absent or not an sf-boolean. */
export function parseBooleanField(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  const bare = parseItem(value)?.value
  return bare?.type === 'boolean' ? bare.value : undefined
}
