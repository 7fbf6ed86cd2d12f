/**
 * Strings that outlive the message they were parsed from.
 *
 * The SIP parser decodes a message's header block into one string and takes every value out of it with `slice`.
 * V8 makes a substring of 13 or more characters a "sliced string": a pointer into the parent, which keeps the whole
 * parent alive. A Call-ID kept for a call, a dialog tag, or a transaction key kept 32 s to absorb retransmissions
 * would each keep its message's entire header text (0.3–2 KB), for as long as it is kept. A string built by `+`
 * from such slices (a "cons string") keeps them, and their parents, too.
 *
 * `detach` returns the same characters in a string of their own. Use it where a parsed value is stored beyond the
 * message (dialogs, call records, registrations, absorbed transaction keys), not per message on the hot path.
 */

/** Shorter substrings are copied by V8 already (`SlicedString::kMinLength`). */
const MIN_SLICED = 13;

/** The characters of `s` in storage that does not share its parent's (see the module comment). About 50 ns. */
export function detach(s: string): string {
  if (s.length < MIN_SLICED) return s;
  // `' ' + s` is a cons string; slicing it flattens it into a new flat string of s.length + 1 characters and
  // returns a view of that, so the result refers to the new string alone and not to s or s's parent.
  return (' ' + s).slice(1);
}
