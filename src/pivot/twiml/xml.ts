/**
 * A small, safe XML parser for TwiML replies: elements, attributes, text, CDATA; comments, processing
 * instructions and the XML declaration are skipped. No DTD at all (`<!DOCTYPE` is refused, so no entity
 * can be declared or expanded); only the five predefined entities and numeric character references are
 * decoded. Bounded: depth ≤ 32, ≤ 2000 elements, ≤ 64 attributes per element. Never throws: a document it
 * cannot read gives `{ ok: false, error }`.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: ReadonlyArray<XmlElement | string>;
}

export type XmlResult = { readonly ok: true; readonly root: XmlElement } | { readonly ok: false; readonly error: string };

export const XML_MAX_DEPTH = 32;
export const XML_MAX_ELEMENTS = 2000;
const MAX_ATTRS = 64;

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;
const ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

class XmlSyntaxError extends Error {}

/** Decode the predefined entities and character references in `s` (anything else is an error). */
function decodeText(s: string, at: number): string {
  if (s.indexOf('&') < 0) return s;
  return s.replace(/&([^;&\s<]{0,12});|&/g, (_m, ent: string | undefined) => {
    if (ent === undefined) throw new XmlSyntaxError(`bare & near offset ${at}`);
    if (/^#[xX][0-9a-fA-F]{1,6}$/.test(ent)) return codePoint(parseInt(ent.slice(2), 16), at);
    if (/^#\d{1,7}$/.test(ent)) return codePoint(Number(ent.slice(1)), at);
    const v = ENTITIES[ent];
    if (v === undefined) throw new XmlSyntaxError(`unknown entity &${ent}; near offset ${at}`);
    return v;
  });
}

function codePoint(n: number, at: number): string {
  if (!Number.isInteger(n) || n <= 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) throw new XmlSyntaxError(`bad character reference near offset ${at}`);
  return String.fromCodePoint(n);
}

interface Frame { name: string; attrs: Record<string, string>; children: Array<XmlElement | string> }

export function parseXml(text: string): XmlResult {
  try {
    return { ok: true, root: parse(text) };
  } catch (err) {
    if (err instanceof XmlSyntaxError) return { ok: false, error: err.message };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

function parse(src: string): XmlElement {
  let i = 0;
  const n = src.length;
  const stack: Frame[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  const fail = (msg: string): never => { throw new XmlSyntaxError(`${msg} at offset ${i}`); };

  const readName = (): string => {
    const start = i;
    if (i >= n || !NAME_START.test(src[i]!)) fail('expected a name');
    i++;
    while (i < n && NAME_CHAR.test(src[i]!)) i++;
    return src.slice(start, i);
  };
  const skipWs = (): void => { while (i < n && /\s/.test(src[i]!)) i++; };
  const addChild = (c: XmlElement | string): void => {
    const top = stack[stack.length - 1];
    if (top) { top.children.push(c); return; }
    if (typeof c === 'string') { if (c.trim() !== '') fail('text outside the root element'); return; }
    if (root) fail('more than one root element');
    root = c;
  };

  while (i < n) {
    if (src[i] !== '<') {
      const end = src.indexOf('<', i);
      const stop = end < 0 ? n : end;
      addChild(decodeText(src.slice(i, stop), i));
      i = stop;
      continue;
    }
    if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i + 4);
      if (end < 0) fail('unterminated comment');
      i = end + 3;
      continue;
    }
    if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i + 9);
      if (end < 0) fail('unterminated CDATA');
      if (stack.length === 0) fail('CDATA outside the root element');
      addChild(src.slice(i + 9, end));
      i = end + 3;
      continue;
    }
    if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i + 2);
      if (end < 0) fail('unterminated processing instruction');
      i = end + 2;
      continue;
    }
    if (src.startsWith('<!', i)) fail('DTDs and declarations are not accepted');
    if (src.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipWs();
      if (src[i] !== '>') fail('expected >');
      i++;
      const top = stack.pop();
      if (!top || top.name !== name) fail(`unexpected </${name}>`);
      addChild({ name: top!.name, attrs: top!.attrs, children: top!.children });
      continue;
    }
    // Start tag.
    i++;
    const name = readName();
    if (++elements > XML_MAX_ELEMENTS) fail(`more than ${XML_MAX_ELEMENTS} elements`);
    const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
    let count = 0;
    for (;;) {
      const before = i;
      skipWs();
      if (i >= n) fail('unterminated start tag');
      if (src[i] === '/' || src[i] === '>') break;
      if (i === before) fail('expected whitespace before an attribute');
      const an = readName();
      skipWs();
      if (src[i] !== '=') fail('expected = after an attribute name');
      i++;
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") fail('expected a quoted attribute value');
      const end = src.indexOf(q!, i + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = src.slice(i + 1, end);
      if (raw.includes('<')) fail('< in an attribute value');
      if (Object.prototype.hasOwnProperty.call(attrs, an)) fail(`duplicate attribute ${an}`);
      if (++count > MAX_ATTRS) fail('too many attributes');
      attrs[an] = decodeText(raw, i);
      i = end + 1;
    }
    if (src[i] === '/') {
      i++;
      if (src[i] !== '>') fail('expected >');
      i++;
      if (stack.length + 1 > XML_MAX_DEPTH) fail(`nested deeper than ${XML_MAX_DEPTH}`);
      addChild({ name, attrs, children: [] });
      continue;
    }
    i++;
    if (stack.length + 1 > XML_MAX_DEPTH) fail(`nested deeper than ${XML_MAX_DEPTH}`);
    stack.push({ name, attrs, children: [] });
  }
  if (stack.length > 0) fail(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) fail('no root element');
  return root!;
}

/** The text content of an element (its text and CDATA children, concatenated, trimmed). */
export function textOf(e: XmlElement): string {
  let s = '';
  for (const c of e.children) if (typeof c === 'string') s += c;
  return s.trim();
}
