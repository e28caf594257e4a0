//! JSON to and from a handler's values, by Rust, where QuickJS goes one character at a time.
//!
//! [`write`]: QuickJS's `JSON.stringify` quotes strings one character at a time, and was most of
//! a simple handler's cost with a 1 KiB payload. Plain data (objects and arrays with the ordinary
//! prototypes, strings, numbers, booleans, null) is written here as `JSON.stringify` would write
//! it; anything else it has rules for (a function, `toJSON`, a `Date`, a boxed primitive, a
//! symbol, a `BigInt`, deep or circular nesting) makes [`write`] answer `None`, and the caller
//! lets `JSON.stringify` write the whole value instead.
//!
//! [`read`]: the handler's argument made as `JSON.parse` makes it, a string's text found eight
//! bytes at a time and copied once (QuickJS's parser reads strings byte by byte, and was a fifth
//! of a simple handler's cost with a 1 KiB payload). What it does not read as `JSON.parse` would
//! (a lone surrogate escape, nesting deeper than `DEPTH_MAX`, text that is not JSON) makes it
//! answer `None`, and the caller lets QuickJS's own parser read the whole text (and report what
//! is wrong with it).

use std::fmt::Write as _;

use rquickjs::{Array, Atom, Ctx, Object, Type, Value, qjs};

/// Nesting followed before handing over to `JSON.stringify` (which reports cycles), or to
/// QuickJS's parser.
const DEPTH_MAX: usize = 64;

/// The prototypes a plain object or array has.
pub(crate) struct Plain<'js> {
    pub object: Object<'js>,
    pub array: Object<'js>,
}

/// Appends `value` to `out`; `None` when only `JSON.stringify` can write it. Top-level
/// `undefined` is written as nothing and answers `Some(false)`.
pub(crate) fn write<'js>(value: &Value<'js>, plain: &Plain<'js>, out: &mut String) -> Option<bool> {
    write_at(value, plain, out, 0)
}

fn write_at<'js>(value: &Value<'js>, plain: &Plain<'js>, out: &mut String, depth: usize) -> Option<bool> {
    if depth > DEPTH_MAX {
        return None;
    }
    match value.type_of() {
        Type::Undefined => return Some(false),
        Type::Null => out.push_str("null"),
        Type::Bool => out.push_str(if value.as_bool()? { "true" } else { "false" }),
        Type::Int => {
            let _ = write!(out, "{}", value.as_int()?);
        }
        Type::Float => number(value.as_float()?, out),
        Type::String => quote_js(value.as_string()?.clone(), out)?,
        Type::Array => {
            let array: &Array<'js> = value.as_array()?;
            if array.as_object().get_prototype().as_ref() != Some(&plain.array) {
                return None;
            }
            out.push('[');
            for index in 0..array.len() {
                if index > 0 {
                    out.push(',');
                }
                let item: Value<'js> = array.get(index).ok()?;
                if !write_at(&item, plain, out, depth + 1)? {
                    out.push_str("null");
                }
            }
            out.push(']');
        }
        Type::Object => {
            let object = value.as_object()?;
            let prototype = object.get_prototype();
            if prototype.is_some() && prototype.as_ref() != Some(&plain.object) {
                return None;
            }
            out.push('{');
            let mut first = true;
            for entry in object.props::<Atom<'js>, Value<'js>>() {
                let (key, item) = entry.ok()?;
                let mark = out.len();
                if !first {
                    out.push(',');
                }
                quote_js(key.to_js_string().ok()?, out)?;
                out.push(':');
                if write_at(&item, plain, out, depth + 1)? {
                    first = false;
                } else {
                    out.truncate(mark);
                }
            }
            out.push('}');
        }
        _ => return None,
    }
    Some(true)
}

/// Appends a JavaScript string quoted as `JSON.stringify` quotes it, read in place (QuickJS
/// lends an ASCII string's own bytes); `None` for a string that is not UTF-8 (a lone
/// surrogate), which `JSON.stringify` writes as `\uXXXX`.
fn quote_js(text: rquickjs::String<'_>, out: &mut String) -> Option<()> {
    let text = text.to_cstring().ok()?;
    // Read through the pointer, not `as_str()`/`as_ref()`: those make a `str` of bytes that are
    // not UTF-8 when the string holds a lone surrogate.
    // SAFETY: QuickJS's C string is `len` bytes at `ptr`, alive while `text` is.
    let bytes = unsafe { std::slice::from_raw_parts(text.as_ptr().cast::<u8>(), text.len()) };
    quote(std::str::from_utf8(bytes).ok()?, out);
    Some(())
}

/// Appends `text` as a JSON string, escaped as `JSON.stringify` escapes it: `"`, `\\` and the
/// control characters; eight bytes at a time while none of them needs escaping.
pub(crate) fn quote(text: &str, out: &mut String) {
    out.reserve(text.len() + 2);
    out.push('"');
    let bytes = text.as_bytes();
    let (mut copied, mut at) = (0, 0);
    while at < bytes.len() {
        let clean = skip_clean(bytes, at);
        if clean > at {
            at = clean;
            continue;
        }
        let escaped = match bytes[at] {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            byte @ 0..0x20 => {
                out.push_str(&text[copied..at]);
                let _ = write!(out, "\\u{byte:04x}");
                at += 1;
                copied = at;
                continue;
            }
            _ => {
                at += 1;
                continue;
            }
        };
        out.push_str(&text[copied..at]);
        out.push_str(escaped);
        at += 1;
        copied = at;
    }
    out.push_str(&text[copied..]);
    out.push('"');
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);

/// Whether any of eight bytes is `"`, `\\` or a control character (the lowest one flagged is
/// always one of them; flags above it may not be).
fn escapes(word: u64) -> u64 {
    const HIGH: u64 = ONES << 7;
    let zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGH;
    word.wrapping_sub(ONES * 0x20) & !word & HIGH
        | zero_byte(word ^ (ONES * u64::from(b'"')))
        | zero_byte(word ^ (ONES * u64::from(b'\\')))
}

/// A number as `JSON.stringify` writes it: non-finite ones are `null`, integers have no
/// fraction or exponent below 1e21, others the shortest form that reads back the same.
fn number(n: f64, out: &mut String) {
    if !n.is_finite() {
        out.push_str("null");
    } else if n.fract() == 0.0 && n.abs() < 1e21 {
        if n.abs() < 9.0e15 {
            out.push_str(&(n as i64).to_string());
        } else {
            out.push_str(&format!("{n:.0}"));
        }
    } else {
        out.push_str(&serde_json::to_string(&n).unwrap_or_else(|_| "null".into()));
    }
}

/// `text` made the value `JSON.parse(text)` makes, in `ctx`; `Ok(None)` when QuickJS's own parser
/// must read it (see the module's text). Fails only as QuickJS does (out of memory: the exception
/// is pending in `ctx`).
pub(crate) fn read<'js>(ctx: &Ctx<'js>, text: &str) -> rquickjs::Result<Option<Value<'js>>> {
    let mut reader = Reader { ctx: ctx.as_raw().as_ptr(), text, at: 0, scratch: String::new() };
    let value = match reader.value(0) {
        Ok(value) => value,
        Err(Unread::ByQuickJs) => return Ok(None),
        Err(Unread::Exception) => {
            // SAFETY: `ctx` is live. QuickJS fails to make an atom without throwing when its
            // atom table cannot grow: that is running out of memory too.
            unsafe {
                if !qjs::JS_HasException(ctx.as_raw().as_ptr()) {
                    qjs::JS_ThrowOutOfMemory(ctx.as_raw().as_ptr());
                }
            }
            return Err(rquickjs::Error::Exception);
        }
    };
    reader.space();
    if reader.at != text.len() {
        return Ok(None);
    }
    // SAFETY: the reader made `value` in `ctx` and hands its one reference to the `Value`.
    Ok(Some(unsafe { Value::from_raw(ctx.clone(), value.give()) }))
}

enum Unread {
    /// Text [`read`] leaves to QuickJS's parser.
    ByQuickJs,
    /// QuickJS failed (out of memory); its exception is pending.
    Exception,
}

/// A value the reader made and owns until it gives it away (freed if dropped before).
struct Owned {
    ctx: *mut qjs::JSContext,
    value: qjs::JSValue,
}

impl Owned {
    fn give(self) -> qjs::JSValue {
        let value = self.value;
        std::mem::forget(self);
        value
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: `value` is a reference this `Owned` holds, made in `ctx`, which outlives it.
        unsafe { qjs::JS_FreeValue(self.ctx, self.value) }
    }
}

/// Where a string's text is once read: in the input (no escapes) or in the scratch buffer.
enum Text {
    At(usize, usize),
    Scratch,
}

struct Reader<'a> {
    ctx: *mut qjs::JSContext,
    text: &'a str,
    at: usize,
    /// A string with escapes, unescaped.
    scratch: String,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Takes the QuickJS value `value` (an exception marker when QuickJS failed).
    fn own(&self, value: qjs::JSValue) -> Result<Owned, Unread> {
        // SAFETY: `value` was just returned by QuickJS for `ctx`; an exception marker holds nothing.
        if unsafe { qjs::JS_IsException(value) } {
            return Err(Unread::Exception);
        }
        Ok(Owned { ctx: self.ctx, value })
    }

    fn value(&mut self, depth: usize) -> Result<Owned, Unread> {
        self.space();
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => {
                let text = self.string()?;
                let text = self.text_of(&text);
                // SAFETY: `text` is UTF-8 of `text.len()` bytes; QuickJS copies it.
                self.own(unsafe { qjs::JS_NewStringLen(self.ctx, text.as_ptr().cast(), text.len() as _) })
            }
            Some(b't') => self.literal("true", qjs::JS_MKVAL(qjs::JS_TAG_BOOL, 1)),
            Some(b'f') => self.literal("false", qjs::JS_MKVAL(qjs::JS_TAG_BOOL, 0)),
            Some(b'n') => self.literal("null", qjs::JS_MKVAL(qjs::JS_TAG_NULL, 0)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(Unread::ByQuickJs),
        }
    }

    fn literal(&mut self, word: &str, value: qjs::JSValue) -> Result<Owned, Unread> {
        if !self.text[self.at..].starts_with(word) {
            return Err(Unread::ByQuickJs);
        }
        self.at += word.len();
        Ok(Owned { ctx: self.ctx, value })
    }

    /// A number as `JSON.parse` reads it: JSON's grammar exactly, the value rounded as `strtod`
    /// rounds it (`JS_NewFloat64` tags an integral one as an integer, `-0` as a float).
    fn number(&mut self) -> Result<Owned, Unread> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at - from
        };
        let mut at = start + usize::from(bytes[start] == b'-');
        let whole = digits(&mut at);
        if whole == 0 || (whole > 1 && bytes[at - whole] == b'0') {
            return Err(Unread::ByQuickJs);
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            if digits(&mut at) == 0 {
                return Err(Unread::ByQuickJs);
            }
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            if digits(&mut at) == 0 {
                return Err(Unread::ByQuickJs);
            }
        }
        self.at = at;
        let n: f64 = self.text[start..at].parse().map_err(|_| Unread::ByQuickJs)?;
        Ok(Owned { ctx: self.ctx, value: qjs::JS_NewFloat64(n) })
    }

    /// A string's text: the opening quote at `at`, read past the closing one.
    fn string(&mut self) -> Result<Text, Unread> {
        let bytes = self.text.as_bytes();
        let start = self.at + 1;
        let mut end = stop(bytes, start);
        if bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Ok(Text::At(start, end));
        }
        self.scratch.clear();
        self.scratch.push_str(&self.text[start..end]);
        loop {
            match bytes.get(end) {
                Some(b'"') => {
                    self.at = end + 1;
                    return Ok(Text::Scratch);
                }
                Some(b'\\') => {}
                _ => return Err(Unread::ByQuickJs),
            }
            let (unescaped, length) = match bytes.get(end + 1) {
                Some(b'"') => ('"', 2),
                Some(b'\\') => ('\\', 2),
                Some(b'/') => ('/', 2),
                Some(b'b') => ('\u{8}', 2),
                Some(b'f') => ('\u{c}', 2),
                Some(b'n') => ('\n', 2),
                Some(b'r') => ('\r', 2),
                Some(b't') => ('\t', 2),
                Some(b'u') => {
                    let unit = hex4(bytes, end + 2).ok_or(Unread::ByQuickJs)?;
                    match unit {
                        // A surrogate pair; a lone surrogate has no UTF-8 (QuickJS's parser
                        // makes it).
                        0xD800..0xDC00 if bytes.get(end + 6..end + 8) == Some(b"\\u") => {
                            let low = hex4(bytes, end + 8).ok_or(Unread::ByQuickJs)?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return Err(Unread::ByQuickJs);
                            }
                            let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            (char::from_u32(code).ok_or(Unread::ByQuickJs)?, 12)
                        }
                        _ => (char::from_u32(unit).ok_or(Unread::ByQuickJs)?, 6),
                    }
                }
                _ => return Err(Unread::ByQuickJs),
            };
            self.scratch.push(unescaped);
            let from = end + length;
            end = stop(bytes, from);
            self.scratch.push_str(&self.text[from..end]);
        }
    }

    /// The atom of a key (the caller frees it). `JS_NewAtomLen` looks its bytes up among the
    /// atoms as they are, and an atom of Latin-1 text (`"Ã©"`, bytes C3 A9) has the same bytes as
    /// a different key's UTF-8 (`"é"`): only an ASCII key is looked up that way; any other is
    /// made a string (decoded) first, as `JSON.parse` makes every key.
    fn atom(&self, key: &Text) -> Result<qjs::JSAtom, Unread> {
        let key = self.text_of(key);
        // SAFETY: `key` is UTF-8 of `key.len()` bytes; the string made of a non-ASCII key is
        // owned until the atom is made of it.
        let atom = unsafe {
            if key.is_ascii() {
                qjs::JS_NewAtomLen(self.ctx, key.as_ptr().cast(), key.len() as _)
            } else {
                let text = self.own(qjs::JS_NewStringLen(self.ctx, key.as_ptr().cast(), key.len() as _))?;
                qjs::JS_ValueToAtom(self.ctx, text.value)
            }
        };
        if atom == qjs::JS_ATOM_NULL {
            return Err(Unread::Exception);
        }
        Ok(atom)
    }

    fn text_of(&self, text: &Text) -> &str {
        match *text {
            Text::At(start, end) => &self.text[start..end],
            Text::Scratch => &self.scratch,
        }
    }

    /// Opens an object or array (made by `make`) at its opening bracket: the new value, and
    /// whether it is empty (`close` came next, and is read).
    fn open(
        &mut self,
        depth: usize,
        close: u8,
        make: unsafe extern "C" fn(*mut qjs::JSContext) -> qjs::JSValue,
    ) -> Result<(Owned, bool), Unread> {
        if depth >= DEPTH_MAX {
            return Err(Unread::ByQuickJs);
        }
        self.at += 1;
        // SAFETY: `ctx` is live; the new value is owned from here.
        let value = self.own(unsafe { make(self.ctx) })?;
        self.space();
        let empty = self.peek() == Some(close);
        if empty {
            self.at += 1;
        }
        Ok((value, empty))
    }

    /// After an item: past a `,` (false: another item follows) or the closing `close` (true).
    fn closed(&mut self, close: u8) -> Result<bool, Unread> {
        self.space();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(true)
            }
            _ => Err(Unread::ByQuickJs),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Owned, Unread> {
        let (object, empty) = self.open(depth, b'}', qjs::JS_NewObject)?;
        if empty {
            return Ok(object);
        }
        loop {
            self.space();
            if self.peek() != Some(b'"') {
                return Err(Unread::ByQuickJs);
            }
            let key = self.string()?;
            let atom = self.atom(&key)?;
            self.space();
            let item = if self.peek() == Some(b':') {
                self.at += 1;
                self.value(depth + 1)
            } else {
                Err(Unread::ByQuickJs)
            };
            // SAFETY: `object` and `atom` are live in `ctx`; the property takes the item's
            // reference (QuickJS frees it if defining fails); the key's atom is released once,
            // whatever happened.
            let defined = item.map(|item| unsafe {
                qjs::JS_DefinePropertyValue(self.ctx, object.value, atom, item.give(), qjs::JS_PROP_C_W_E as _)
            });
            // SAFETY: see above.
            unsafe { qjs::JS_FreeAtom(self.ctx, atom) };
            if defined? < 0 {
                return Err(Unread::Exception);
            }
            if self.closed(b'}')? {
                return Ok(object);
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Owned, Unread> {
        let (array, empty) = self.open(depth, b']', qjs::JS_NewArray)?;
        if empty {
            return Ok(array);
        }
        for index in 0u32.. {
            let item = self.value(depth + 1)?;
            // SAFETY: as for an object's property.
            let defined = unsafe {
                qjs::JS_DefinePropertyValueUint32(self.ctx, array.value, index, item.give(), qjs::JS_PROP_C_W_E as _)
            };
            if defined < 0 {
                return Err(Unread::Exception);
            }
            if self.closed(b']')? {
                return Ok(array);
            }
        }
        Err(Unread::ByQuickJs)
    }
}

/// From `at`, past every eight bytes with no `"`, `\\` or control character (32 at a time while
/// it can): where the first eight that may hold one start, or the last fewer than eight.
fn skip_clean(bytes: &[u8], mut at: usize) -> usize {
    let word = |bytes: &[u8], at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("eight bytes"));
    while let Some(block) = bytes.get(at..at + 32) {
        if escapes(word(block, 0)) | escapes(word(block, 8)) | escapes(word(block, 16)) | escapes(word(block, 24)) != 0
        {
            break;
        }
        at += 32;
    }
    while bytes.len() >= at + 8 && escapes(word(bytes, at)) == 0 {
        at += 8;
    }
    at
}

/// Where the string text from `at` stops: the first `"`, `\\` or control character (or the end).
fn stop(bytes: &[u8], at: usize) -> usize {
    let mut at = skip_clean(bytes, at);
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// Four hexadecimal digits at `at`.
fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use rquickjs::{Context, Function, Runtime};

    use super::*;

    /// Whether two values are the same data: types, `Object.is` for primitives (so `-0` is not
    /// `0`), prototypes, own keys in order, and every property's attributes and value.
    const SAME: &str = r#"(a, b) => {
      const same = (x, y) => {
        if (typeof x !== typeof y) return false;
        if (x === null || typeof x !== 'object') return Object.is(x, y);
        if (Array.isArray(x) !== Array.isArray(y)) return false;
        if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
        const kx = Reflect.ownKeys(x), ky = Reflect.ownKeys(y);
        if (kx.length !== ky.length) return false;
        for (let i = 0; i < kx.length; i++) {
          if (kx[i] !== ky[i]) return false;
          const dx = Object.getOwnPropertyDescriptor(x, kx[i]), dy = Object.getOwnPropertyDescriptor(y, ky[i]);
          if (dx.writable !== dy.writable || dx.enumerable !== dy.enumerable || dx.configurable !== dy.configurable) return false;
          if (!same(dx.value, dy.value)) return false;
        }
        return true;
      };
      return same(a, b);
    }"#;

    #[test]
    fn read_makes_what_json_parse_makes() {
        let long = format!(r#"{{"pad":"{}\n{}","n":1}}"#, "x".repeat(5000), "y".repeat(13));
        let cases = [
            r#"{"method":"POST","url":"http://h/p?q=1","cancel":false,"variables":{},"payload":{"n":1,"sentAt":1700000000000000,"pad":"xxxx"}}"#,
            "{}",
            "[]",
            " \n\t{ \"a\" : [ 1 , 2 , { } , [ ] ] }\r\n",
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"__proto__":{"x":1},"y":2}"#,
            r#"{"2":"b","1":"a","x":0,"01":1,"1.5":2,"-1":3,"4294967295":4,"4294967294":5,"":6}"#,
            "[0,-0,1,-1,2147483647,2147483648,-2147483648,-2147483649,999999999,1000000000,-999999999]",
            "[1.5,-1.5e-7,1E21,1e+2,1e400,-1e400,0.1,123456789012345678901234567890,5e-324,0.0,-0.0,10e0]",
            r#""\"\\\/\b\f\n\r\t\u0041\u00e9\u2028\ud83d\ude00\u0000""#,
            "\"café ☃ 😀 and some text after it\"",
            r#"{"k\"ey":1,"\u00e9":2,"a\\b":3}"#,
            // Latin-1 text whose bytes are another key's UTF-8 ("Ã©" and "é": C3 A9).
            r#"{"Ã©":1,"é":2,"\u00c3\u00a9":3}"#,
            "[true,false,null,[true],{\"t\":false}]",
            "\"12345678\\\"\"",
            "\"1234567\\\\\"",
            &long,
        ];
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            let same: Function = ctx.eval(SAME).unwrap();
            for case in cases {
                let ours = read(&ctx, case).unwrap().unwrap_or_else(|| panic!("left to QuickJS: {case}"));
                let theirs: Value = ctx.json_parse(case).unwrap();
                assert!(same.call::<_, bool>((ours, theirs)).unwrap(), "{case}");
            }
        });
    }

    /// QuickJS running out of memory part way through, at each of many points (a key's atom, a
    /// string, an object, an array, a property): everything made so far is freed, and the
    /// exception is pending (as `js_error` expects).
    #[test]
    fn read_frees_what_it_made_when_memory_runs_out() {
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        let items: Vec<String> =
            (0..2_000).map(|n| format!(r#"{{"key{n}":["{}",{n}],"é{n}":{{}}}}"#, "v".repeat(24))).collect();
        let payload = format!("[{}]", items.join(","));
        runtime.run_gc();
        let before = runtime.memory_usage();
        let counts = |usage: &rquickjs::qjs::JSMemoryUsage| (usage.obj_count, usage.atom_count, usage.str_count);
        for step in 0..400 {
            runtime.set_memory_limit(before.malloc_size as usize + (32 << 10) + step * 53);
            context.with(|ctx| {
                assert!(matches!(read(&ctx, &payload), Err(rquickjs::Error::Exception)), "step {step}");
                assert!(!ctx.catch().is_undefined(), "an exception is pending (step {step})");
            });
            runtime.set_memory_limit(1 << 30);
            runtime.run_gc();
            assert_eq!(counts(&runtime.memory_usage()), counts(&before), "step {step}");
        }
        // The same payload, with room: it is all there.
        context.with(|ctx| {
            let value = read(&ctx, &payload).unwrap().unwrap();
            assert_eq!(value.as_array().unwrap().len(), 2_000);
        });
    }

    #[test]
    fn read_leaves_to_quickjs_what_it_does_not_read_as_json_parse() {
        let deep = format!("{}{}", "[".repeat(DEPTH_MAX + 1), "]".repeat(DEPTH_MAX + 1));
        let cases = [
            r#""\ud800""#,
            r#""\ud800\u0041""#,
            r#""\udc00""#,
            &deep,
            "01",
            "-",
            "1.",
            "1e",
            ".5",
            "+1",
            "[1,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "{a:1}",
            "\"\u{1}\"",
            "\"open",
            "tru",
            "nul",
            "[1] x",
            "\"\\x\"",
            "\"\\u12g4\"",
            "",
        ];
        let runtime = Runtime::new().unwrap();
        let context = Context::full(&runtime).unwrap();
        context.with(|ctx| {
            for case in cases {
                assert!(read(&ctx, case).unwrap().is_none(), "read {case:?}");
            }
        });
    }
}
