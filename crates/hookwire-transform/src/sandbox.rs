//! One compiled transformation: its own QuickJS runtime (so its memory limit is its own and no
//! endpoint's globals reach another's), a context with only the language (no I/O exists in
//! QuickJS-ng without quickjs-libc; `Date` is frozen, `Math.random` seeded), and `handler` kept
//! compiled between calls. Not `Send`: it lives on the pool thread that built it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::function::Rest;
use rquickjs::{CaughtError, Coerced, Context, Ctx, FromJs, Function, Object, Persistent, Runtime, Value, qjs};

use crate::json::{self, Plain};
use crate::{Failure, Input, Limits, Returned};

/// The file name errors point into (`webhook.js:5:3`).
const FILE: &str = "transformation.js";
/// Lines of `console.*` output a simulation keeps, and the length of each.
const CONSOLE_LINES_MAX: usize = 100;
const CONSOLE_LINE_BYTES_MAX: usize = 1_024;
/// JavaScript stack a handler may use (deep recursion is a RangeError, not a crash); well inside
/// the 2 MiB of a tokio worker thread, where quick runs happen.
const STACK_BYTES_MAX: usize = 512 << 10;

/// The language, without host objects: no `Proxy`, typed arrays, `WeakRef` or `performance`.
/// `Promise` stays (without it an `async` handler leaks and aborts the runtime's teardown).
type Intrinsics =
    (intrinsic::Eval, intrinsic::Json, intrinsic::RegExp, intrinsic::MapSet, intrinsic::Date, intrinsic::Promise);

/// Runs first in every context: a `Date` whose clock is the message's time (set before each
/// call), a seeded `Math.random`, and the one entry point, which calls the handler on the
/// argument (parsed by [`argument`]) and hands back the webhook it returned (its payload is
/// written as JSON by `json.rs`).
const PRELUDE: &str = r#"(() => {
  const RealDate = Date;
  let now = 0, seed = 0x2545F491;
  function FixedDate(...args) {
    if (!new.target) return new RealDate(now).toString();
    return Reflect.construct(RealDate, args.length ? args : [now], new.target);
  }
  Object.defineProperty(FixedDate, 'name', { value: 'Date' });
  Object.defineProperty(FixedDate, 'prototype', { value: RealDate.prototype, writable: false });
  FixedDate.now = () => now;
  FixedDate.parse = RealDate.parse;
  FixedDate.UTC = RealDate.UTC;
  Object.defineProperty(RealDate.prototype, 'constructor',
    { value: FixedDate, writable: true, configurable: true, enumerable: false });
  Object.defineProperty(globalThis, 'Date', { value: FixedDate, writable: true, configurable: true });
  Math.random = () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 4294967296; };
  const webhook = (value) => {
    if (value === undefined || value === null || typeof value !== 'object') {
      throw new TypeError('handler must return the webhook object, not ' + (value === null ? 'null' : typeof value));
    }
    return value;
  };
  return (handler, argument, time, batch) => {
    now = time; seed = (time >>> 0) || 0x2545F491;
    const out = handler(argument);
    // A destination's handler gets {url, variables, events: [{eventType, payload}, …]} and
    // returns the body to send (made a webhook here); an endpoint's gets the webhook and
    // returns it, read as it is (no copy).
    const finish = batch ? (value) => {
      if (value === undefined) throw new TypeError('handler must return the body to send, not undefined');
      return { method: 'POST', url: argument.url, payload: value, cancel: false };
    } : webhook;
    return (out && typeof out.then === 'function') ? out.then(finish) : finish(out);
  };
})()"#;

/// Why a call ended without a result, before it becomes a [`Failure`].
enum JsError {
    Thrown { message: String, line: Option<u32> },
    Time,
    Memory,
}

pub(crate) struct Sandbox {
    // Declared first, dropped first: a JavaScript value outliving its runtime aborts the process.
    handler: Persistent<Function<'static>>,
    entry: Persistent<Function<'static>>,
    /// `Object.prototype` and `Array.prototype` as they were before the user's code ran.
    plain: (Persistent<Object<'static>>, Persistent<Object<'static>>),
    context: Context,
    runtime: Runtime,
    console: Rc<RefCell<Vec<String>>>,
    clock: Clock,
    limits: Limits,
    /// The names a call reads from what the handler returned, made atoms once (a name given as
    /// text is hashed and looked up again on every read); released when the sandbox is dropped.
    names: [qjs::JSAtom; 4],
}

/// The order of [`Sandbox::names`].
const NAMES: [&str; 4] = ["cancel", "method", "url", "payload"];

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.context.with(|ctx| {
            for atom in self.names {
                // SAFETY: each atom was made in this context, once, and is released once.
                unsafe { qjs::JS_FreeAtom(ctx.as_raw().as_ptr(), atom) }
            }
        });
    }
}

/// The CPU-time deadline the interrupt handler checks (this thread's CPU clock, nanoseconds;
/// 0 means none), and whether it fired.
#[derive(Clone, Default)]
struct Clock {
    deadline_ns: Arc<AtomicU64>,
    fired: Arc<AtomicBool>,
}

/// How old this thread's last reading of its CPU clock may be for a run to start from it.
/// Reading that clock is a system call (no vDSO: about 0.9 µs here, a sixth of a simple
/// handler's run), so a run starts from the last reading when it is this recent: its deadline
/// is that reading plus the wall time since (which the CPU time since cannot exceed) plus its
/// limit. A run therefore always gets its whole limit, and at most this much more.
const CPU_READING_REUSED_NS: u64 = 1_000_000;

std::thread_local! {
    /// This thread's last CPU clock reading and the monotonic clock (vDSO) when it was taken.
    static CPU_READING: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

fn nanoseconds(clock: rustix::time::ClockId) -> u64 {
    let now = rustix::time::clock_gettime(clock);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// This thread's CPU time, read now (and remembered for the next run's start, with the wall
/// clock read just before it, so the CPU time since the reading never exceeds the wall time).
fn thread_cpu_ns() -> u64 {
    let taken = nanoseconds(rustix::time::ClockId::Monotonic);
    let cpu = nanoseconds(rustix::time::ClockId::ThreadCPUTime);
    CPU_READING.set((cpu, taken));
    cpu
}

/// This thread's CPU time or a little more, never less: the last reading plus the wall time
/// since (and 0.1 % of it: NTP may slow the wall clock by up to 0.05 %), when that reading is
/// recent; else a new reading.
fn thread_cpu_ns_or_more() -> u64 {
    let (cpu, taken) = CPU_READING.get();
    let since = nanoseconds(rustix::time::ClockId::Monotonic).saturating_sub(taken);
    if taken != 0 && since <= CPU_READING_REUSED_NS { cpu + since + since / 1_000 } else { thread_cpu_ns() }
}

impl Clock {
    fn start(&self, cpu_ms: u64) {
        self.fired.store(false, Ordering::Relaxed);
        self.deadline_ns.store(thread_cpu_ns_or_more() + cpu_ms * 1_000_000, Ordering::Relaxed);
    }

    fn stop(&self) {
        self.deadline_ns.store(0, Ordering::Relaxed);
    }
}

impl Sandbox {
    /// Compiles `code` (its top level runs once, under the same limits as a call) and finds
    /// `handler`.
    pub fn new(code: &str, limits: Limits) -> Result<Self, Failure> {
        let unavailable = |e: rquickjs::Error| Failure::Unavailable(format!("cannot start JavaScript: {e}"));
        let runtime = Runtime::new().map_err(unavailable)?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(STACK_BYTES_MAX);
        let clock = Clock::default();
        let watch = clock.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            let deadline = watch.deadline_ns.load(Ordering::Relaxed);
            let over = deadline != 0 && thread_cpu_ns() > deadline;
            if over {
                watch.fired.store(true, Ordering::Relaxed);
            }
            over
        })));
        let context = Context::custom::<Intrinsics>(&runtime).map_err(unavailable)?;
        let console = Rc::new(RefCell::new(Vec::new()));
        clock.start(limits.cpu_ms);
        let compiled = context.with(|ctx| {
            let fail = |e| js_error(&ctx, e, clock.fired.load(Ordering::Relaxed));
            let object = Object::new(ctx.clone()).map_err(fail)?;
            for level in ["log", "info", "warn", "error", "debug"] {
                object
                    .set(level, Function::new(ctx.clone(), console_fn(console.clone())).map_err(fail)?)
                    .map_err(fail)?;
            }
            ctx.globals().set("console", object).map_err(fail)?;
            let mut options = EvalOptions::default();
            options.filename = Some("<prelude>".into());
            let entry: Function = ctx.eval_with_options(PRELUDE, options).map_err(fail)?;
            let prototype = |name: &str| -> rquickjs::Result<Object> {
                ctx.globals().get::<_, Object>(name)?.get::<_, Object>("prototype")
            };
            let plain = (
                Persistent::save(&ctx, prototype("Object").map_err(fail)?),
                Persistent::save(&ctx, prototype("Array").map_err(fail)?),
            );
            let mut options = EvalOptions::default();
            options.filename = Some(FILE.into());
            options.strict = false;
            ctx.eval_with_options::<(), _>(code, options).map_err(fail)?;
            let handler: Value = ctx.globals().get("handler").map_err(fail)?;
            Ok(handler.into_function().map(|h| (Persistent::save(&ctx, h), Persistent::save(&ctx, entry), plain)))
        });
        clock.stop();
        let (handler, entry, plain) = match compiled {
            Ok(Some(found)) => found,
            Ok(None) => return Err(Failure::NoHandler),
            Err(JsError::Thrown { message, line }) => return Err(Failure::Compile { line, message }),
            Err(JsError::Time) => return Err(Failure::CpuLimit { ms: limits.cpu_ms }),
            Err(JsError::Memory) => return Err(Failure::MemoryLimit { bytes: limits.memory_bytes }),
        };
        console.borrow_mut().clear();
        let names = context.with(|ctx| {
            NAMES.map(|name| {
                // SAFETY: `name` is `name.len()` bytes of UTF-8; the atom is released in `drop`.
                unsafe { qjs::JS_NewAtomLen(ctx.as_raw().as_ptr(), name.as_ptr().cast(), name.len() as _) }
            })
        });
        if names.contains(&qjs::JS_ATOM_NULL) {
            context.with(|ctx| {
                for atom in names.into_iter().filter(|atom| *atom != qjs::JS_ATOM_NULL) {
                    // SAFETY: made just above in this context, released once.
                    unsafe { qjs::JS_FreeAtom(ctx.as_raw().as_ptr(), atom) }
                }
                let _ = ctx.catch();
            });
            return Err(Failure::MemoryLimit { bytes: limits.memory_bytes });
        }
        Ok(Self { handler, entry, plain, context, runtime, console, clock, limits, names })
    }

    /// Calls `handler(input)` (the JSON parsed) with the clock at `time_ms` and gives back what it
    /// returned (`cancel`, read first, then `method`, `url` and the payload as JSON), with what
    /// it wrote to the console. It may take `cpu_ms` of CPU (at most the sandbox's limit).
    pub fn call(
        &self,
        input: &Input,
        time_ms: i64,
        cpu_ms: u64,
        batch: bool,
    ) -> (Result<Returned, Failure>, Vec<String>) {
        let cpu_ms = cpu_ms.min(self.limits.cpu_ms);
        self.console.borrow_mut().clear();
        self.clock.start(cpu_ms);
        let result = self.context.with(|ctx| {
            let run = || -> rquickjs::Result<Returned> {
                let entry = self.entry.clone().restore(&ctx)?;
                let handler = self.handler.clone().restore(&ctx)?;
                let mut out: Value = entry.call((handler, argument(&ctx, input)?, time_ms as f64, batch))?;
                if let Some(promise) = out.as_promise() {
                    out = promise.finish::<Value>()?;
                }
                let out = Object::from_js(&ctx, out)?;
                let [cancel, method, url, payload] = self.names;
                let get = |atom: qjs::JSAtom| -> rquickjs::Result<Value> {
                    // SAFETY: `out` and `atom` are live in `ctx`; the property's value is a new
                    // reference, given to the `Value` (an exception is left pending for `js_error`).
                    unsafe {
                        let value = qjs::JS_GetProperty(ctx.as_raw().as_ptr(), out.as_value().as_raw(), atom);
                        if qjs::JS_IsException(value) {
                            return Err(rquickjs::Error::Exception);
                        }
                        Ok(Value::from_raw(ctx.clone(), value))
                    }
                };
                if Coerced::<bool>::from_js(&ctx, get(cancel)?)?.0 {
                    return Ok(Returned { method: Ok(None), url: Ok(None), payload: None, cancel: true });
                }
                let text = |name: &str, atom| -> rquickjs::Result<Result<Option<String>, String>> {
                    let value = get(atom)?;
                    Ok(match value.as_string() {
                        Some(text) => Ok(Some(text.to_string()?)),
                        None if value.is_undefined() => Ok(None),
                        None => Err(format!("a {} as {name}: it must be a string", value.type_name())),
                    })
                };
                let (method, url) = (text("method", method)?, text("url", url)?);
                let payload = get(payload)?;
                let plain =
                    Plain { object: self.plain.0.clone().restore(&ctx)?, array: self.plain.1.clone().restore(&ctx)? };
                // Sized for the argument's own text: a payload grown byte by byte is copied each time it
                // outgrows its buffer.
                let mut json = String::with_capacity(input.json().len());
                let payload = match json::write(&payload, &plain, &mut json) {
                    Some(true) => Some(json),
                    Some(false) => None,
                    // Something only JSON.stringify has rules for: it writes the whole value.
                    None => match ctx.json_stringify(payload)? {
                        Some(text) => Some(text.to_string()?),
                        None => None,
                    },
                };
                Ok(Returned { method, url, payload, cancel: false })
            };
            let result = run();
            // Nothing a call left queued may run during the next one.
            while ctx.execute_pending_job() {}
            result.map_err(|e| js_error(&ctx, e, self.clock.fired.load(Ordering::Relaxed)))
        });
        self.clock.stop();
        let result = result.map_err(|error| match error {
            JsError::Thrown { message, line } => Failure::Thrown { line, message },
            JsError::Time => Failure::CpuLimit { ms: cpu_ms },
            JsError::Memory => Failure::MemoryLimit { bytes: self.limits.memory_bytes },
        });
        if result.is_err() {
            // What an aborted run left behind (cycles) is collected now, not at the next run.
            self.runtime.run_gc();
        }
        (result, std::mem::take(&mut *self.console.borrow_mut()))
    }
}

/// The handler's argument: `input` read by `json::read`, or (what that leaves to QuickJS) parsed
/// by QuickJS where it lies (the same parser as `JSON.parse`, which would first need it copied
/// into a JavaScript string and read back out).
fn argument<'js>(ctx: &Ctx<'js>, input: &Input) -> rquickjs::Result<Value<'js>> {
    let json = input.json();
    if let Some(value) = json::read(ctx, json)? {
        return Ok(value);
    }
    // SAFETY: `JS_ParseJSON` reads `json.len()` bytes from `json`'s start and the NUL that
    // `input` keeps right after them (it requires that terminator), and returns a value the
    // caller owns (given to `Value`, which frees it) or the exception marker, left pending in
    // `ctx` for `js_error` to take.
    unsafe {
        let value =
            qjs::JS_ParseJSON(ctx.as_raw().as_ptr(), json.as_ptr().cast(), json.len() as _, c"<input>".as_ptr());
        if qjs::JS_IsException(value) {
            return Err(rquickjs::Error::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), value))
    }
}

/// What a failed evaluation was; must run for every `Error::Exception` (it clears it).
fn js_error(ctx: &Ctx<'_>, error: rquickjs::Error, timed_out: bool) -> JsError {
    let caught = CaughtError::from_error(ctx, error);
    if timed_out {
        return JsError::Time;
    }
    match caught {
        CaughtError::Exception(exception) => {
            let message = exception.message().unwrap_or_default();
            let name = exception.get::<_, Option<String>>("name").ok().flatten().unwrap_or_else(|| "Error".into());
            if name == "InternalError" && message == "out of memory" {
                return JsError::Memory;
            }
            let line = exception.stack().as_deref().and_then(line_in_stack);
            JsError::Thrown { message: format!("{name}: {message}"), line }
        }
        // QuickJS throws null when it cannot even allocate the error.
        CaughtError::Value(value) if value.is_null() => JsError::Memory,
        CaughtError::Value(value) => {
            JsError::Thrown { message: format!("threw {}", printable(ctx, value)), line: None }
        }
        CaughtError::Error(rquickjs::Error::Allocation) => JsError::Memory,
        CaughtError::Error(error) => JsError::Thrown { message: error.to_string(), line: None },
    }
}

/// The line in the user's code a stack names first (`at handler (transformation.js:5:3)`).
fn line_in_stack(stack: &str) -> Option<u32> {
    let start = stack.find(FILE)? + FILE.len() + 1;
    let digits: String = stack.get(start..)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn printable<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    if let Some(text) = value.as_string() {
        return text.to_string().unwrap_or_default();
    }
    if value.is_undefined() {
        return "undefined".into();
    }
    match ctx.json_stringify(value.clone()) {
        Ok(Some(text)) => text.to_string().unwrap_or_default(),
        Ok(None) => "undefined".into(),
        Err(_) => {
            let _ = ctx.catch();
            match Coerced::<String>::from_js(ctx, value) {
                Ok(text) => text.0,
                Err(_) => {
                    let _ = ctx.catch();
                    "[unprintable]".into()
                }
            }
        }
    }
}

/// `console.log` and friends: each call one line, bounded, kept for a simulation's answer.
fn console_fn<'js>(lines: Rc<RefCell<Vec<String>>>) -> impl Fn(Ctx<'js>, Rest<Value<'js>>) + 'js {
    move |ctx, args| {
        let mut lines = lines.borrow_mut();
        if lines.len() >= CONSOLE_LINES_MAX {
            return;
        }
        let mut line = args.0.into_iter().map(|v| printable(&ctx, v)).collect::<Vec<_>>().join(" ");
        if line.len() > CONSOLE_LINE_BYTES_MAX {
            let mut cut = CONSOLE_LINE_BYTES_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        lines.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's deadline may start from a reused reading only if that never shortens its limit.
    #[test]
    fn a_reused_cpu_reading_is_never_behind_the_clock() {
        let exact = || nanoseconds(rustix::time::ClockId::ThreadCPUTime);
        thread_cpu_ns();
        let spin_until = exact() + 300_000;
        while exact() < spin_until {}
        let reading = CPU_READING.get();
        let reused = thread_cpu_ns_or_more();
        let after = exact();
        assert!(reused >= spin_until, "{reused} is behind the CPU time {spin_until} it was taken after");
        assert!(reused <= after + CPU_READING_REUSED_NS * 2, "{reused} is more than the reuse bound ahead of {after}");
        let since = nanoseconds(rustix::time::ClockId::Monotonic) - reading.1;
        if since < CPU_READING_REUSED_NS {
            assert_eq!(CPU_READING.get(), reading, "a recent reading is reused, not taken again");
        }
    }
}
