//! Transformations: an endpoint's JavaScript `handler(webhook)` reshapes each request (method,
//! URL, payload) or cancels it, with Svix's contract. Code runs in QuickJS (`sandbox.rs`), each
//! run bounded in CPU time and memory, compiled once per thread and endpoint version, so a
//! delivery pays for a call, not a parse. A run starts on the delivery's own thread with
//! `INLINE_CPU_MS` of CPU: a handler that needs more (or never ends) is moved, for that version,
//! to a few threads of its own (the [`Pool`]) where it gets its whole limit, so slow code never
//! holds the async runtime for more than that (at most 1 ms more: `sandbox.rs`, the CPU clock)
//! once per thread.

mod json;
mod sandbox;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::{mpsc, oneshot};

use sandbox::Sandbox;

/// CPU time one run may take (the code's top level when it is compiled, or one call).
pub const TRANSFORMATION_CPU_MS_DEFAULT: u64 = 100;
pub const TRANSFORMATION_CPU_MS_MAX: u64 = 10_000;
/// Memory one endpoint's code may hold, in MiB.
pub const TRANSFORMATION_MEMORY_MIB_DEFAULT: usize = 32;
pub const TRANSFORMATION_MEMORY_MIB_MAX: usize = 1_024;
/// Longest code accepted.
pub const TRANSFORMATION_CODE_BYTES_MAX: usize = 64 * 1024;
/// Compiled endpoints each thread keeps (each is its own small runtime).
const COMPILED_PER_THREAD_MAX: usize = 128;
/// CPU a run may take on the delivery's own thread before it is moved to the pool.
const INLINE_CPU_MS: u64 = 2;
/// Versions remembered as too slow to run inline (forgotten all at once past this).
const SLOW_REMEMBERED_MAX: usize = 10_000;

std::thread_local! {
    /// What this thread compiled, by owner: the version, the code and its sandbox.
    static COMPILED: std::cell::RefCell<HashMap<String, (i64, String, Sandbox)>> = std::cell::RefCell::new(HashMap::new());
}

/// Runs `key`'s code on this thread with `cpu_ms`, compiling it first if this thread has not;
/// `None` when it ran out of that CPU (compiling or running).
fn run_here(
    key: &Key,
    code: &str,
    input: &Input,
    time_ms: i64,
    limits: Limits,
    cpu_ms: u64,
    batch: bool,
) -> Option<Result<Outcome, Failure>> {
    let out_of_time = |failure: &Failure| matches!(failure, Failure::CpuLimit { .. }) && cpu_ms < limits.cpu_ms;
    COMPILED.with(|compiled| {
        let mut compiled = compiled.borrow_mut();
        // A new version compiles again, and so does other code under the same version (two writes
        // whose stamps matched): what runs is always the code given.
        if compiled.get(&key.owner).is_none_or(|(version, cached, _)| *version != key.version || cached != code) {
            match Sandbox::new(code, Limits { cpu_ms, ..limits }) {
                Ok(sandbox) => {
                    if compiled.len() >= COMPILED_PER_THREAD_MAX {
                        compiled.clear();
                    }
                    compiled.insert(key.owner.clone(), (key.version, code.to_owned(), sandbox));
                }
                Err(failure) if out_of_time(&failure) => return None,
                Err(failure) => return Some(Err(failure)),
            }
        }
        let (_, _, sandbox) = compiled.get(&key.owner).expect("compiled above");
        match sandbox.call(input, time_ms, cpu_ms, batch).0 {
            Err(failure) if out_of_time(&failure) => None,
            returned => Some(returned.and_then(outcome)),
        }
    })
}
/// Runs waiting for a thread before callers wait to queue.
const QUEUED_MAX: usize = 4_096;
/// Each pool thread's stack (the JavaScript stack limit is well inside it).
const THREAD_STACK_BYTES: usize = 8 << 20;

/// The bounds of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub cpu_ms: u64,
    pub memory_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { cpu_ms: TRANSFORMATION_CPU_MS_DEFAULT, memory_bytes: TRANSFORMATION_MEMORY_MIB_DEFAULT << 20 }
    }
}

/// Why a transformation produced nothing to send. Its text is what the attempt records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{}{message}", at_line(*line))]
    Compile { line: Option<u32>, message: String },
    #[error("the code declares no function handler(webhook)")]
    NoHandler,
    #[error("the handler threw{}: {message}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Thrown { line: Option<u32>, message: String },
    #[error("the handler ran past its CPU time limit of {ms} ms")]
    CpuLimit { ms: u64 },
    #[error("the handler used more than its memory limit of {} MiB", bytes >> 20)]
    MemoryLimit { bytes: usize },
    #[error("the handler returned {0}")]
    Returned(String),
    #[error("{0}")]
    Unavailable(String),
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!("line {l}: ")).unwrap_or_default()
}

/// What a handler sees as `webhook`.
#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub event_type: &'a str,
    /// The payload as JSON text, or (a raw payload) as text the handler sees as a string.
    pub payload: Payload<'a>,
    pub variables: &'a BTreeMap<String, String>,
    /// What `Date.now()` answers (the message's creation time).
    pub time_ms: i64,
}

#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Json(&'a str),
    Text(&'a str),
}

impl Webhook<'_> {
    /// The handler's argument as JSON (the payload is already JSON: copied, not re-encoded).
    fn input(&self) -> Input {
        let mut input = String::with_capacity(129 + self.url.len() + self.payload_len());
        input.push_str(r#"{"method":"#);
        json::quote(self.method, &mut input);
        input.push_str(r#","url":"#);
        json::quote(self.url, &mut input);
        input.push_str(r#","eventType":"#);
        json::quote(self.event_type, &mut input);
        input.push_str(r#","cancel":false,"variables":{"#);
        for (n, (name, value)) in self.variables.iter().enumerate() {
            if n > 0 {
                input.push(',');
            }
            json::quote(name, &mut input);
            input.push(':');
            json::quote(value, &mut input);
        }
        input.push_str(r#"},"payload":"#);
        match self.payload {
            Payload::Json(json) => input.push_str(json),
            Payload::Text(text) => json::quote(text, &mut input),
        }
        input.push('}');
        Input::new(input)
    }

    fn payload_len(&self) -> usize {
        match self.payload {
            Payload::Json(s) | Payload::Text(s) => s.len(),
        }
    }
}

/// What a destination's handler sees as `input`: the batch about to be sent.
#[derive(Debug, Clone, Copy)]
pub struct Batch<'a> {
    pub url: &'a str,
    /// `[{eventType, payload}, …]` as JSON text.
    pub events: &'a str,
    pub variables: &'a BTreeMap<String, String>,
    pub time_ms: i64,
}

impl Batch<'_> {
    fn input(&self) -> Input {
        Input::new(format!(
            r#"{{"url":{},"variables":{},"events":{}}}"#,
            serde_json::to_string(self.url).expect("strings serialise"),
            serde_json::to_string(self.variables).expect("maps of strings serialise"),
            self.events
        ))
    }
}

pub(crate) use input::Input;

/// In a module of its own so that nothing else can make an [`Input`] without its NUL (the parser
/// reads up to it: `sandbox.rs`, `argument`).
mod input {
    /// A handler's argument as JSON text, followed by the NUL QuickJS's parser stops at: it is
    /// parsed where it lies, never first made a JavaScript string (which `JSON.parse` would read
    /// back). Always ends with that NUL (only [`Input::new`] makes one).
    pub(crate) struct Input(String);

    impl Input {
        pub(crate) fn new(mut json: String) -> Self {
            json.push('\0');
            Self(json)
        }

        /// The JSON text, without its NUL.
        pub(crate) fn json(&self) -> &str {
            &self.0[..self.0.len() - 1]
        }
    }
}

/// What to send instead, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Send(Shaped),
    /// The handler set `cancel = true`.
    Cancel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shaped {
    /// `POST` or `PUT`.
    pub method: Method,
    pub url: String,
    /// The payload the handler returned, as JSON text.
    pub payload: String,
}

impl Shaped {
    /// The payload as text when the handler returned a string (a raw payload stays raw).
    pub fn text(&self) -> Option<String> {
        serde_json::from_str::<String>(&self.payload).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Put,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Put => "PUT",
        }
    }
}

/// What a handler returned: `method` and `url` (a string, absent, or why neither), the payload
/// as JSON (absent when `undefined`), and whether `cancel` was truthy.
pub(crate) struct Returned {
    method: Result<Option<String>, String>,
    url: Result<Option<String>, String>,
    payload: Option<String>,
    cancel: bool,
}

/// Reads what the handler returned.
fn outcome(returned: Returned) -> Result<Outcome, Failure> {
    if returned.cancel {
        return Ok(Outcome::Cancel);
    }
    let method = returned.method.map_err(Failure::Returned)?;
    let url = returned.url.map_err(Failure::Returned)?;
    let method = match method.as_deref() {
        Some(m) if m.eq_ignore_ascii_case("POST") => Method::Post,
        Some(m) if m.eq_ignore_ascii_case("PUT") => Method::Put,
        Some(m) => return Err(Failure::Returned(format!("method {m:?}: only POST and PUT are sent"))),
        None => return Err(Failure::Returned("no method: keep webhook.method (POST or PUT)".into())),
    };
    let url = url.ok_or_else(|| Failure::Returned("no url: keep webhook.url or set one".into()))?;
    let payload = returned
        .payload
        .ok_or_else(|| Failure::Returned("no payload (undefined, a function or a symbol cannot be sent)".into()))?;
    Ok(Outcome::Send(Shaped { method, url, payload }))
}

/// Which compiled code a run uses: the endpoint (or destination) and its transformation's
/// version; a new version compiles again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub owner: String,
    pub version: i64,
}

/// A simulation's answer: the outcome, and what the code wrote to the console.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub outcome: Result<Outcome, Failure>,
    pub console: Vec<String>,
}

enum Job {
    Run {
        key: Key,
        code: String,
        input: Input,
        time_ms: i64,
        batch: bool,
        answer: oneshot::Sender<Result<Outcome, Failure>>,
    },
    Simulate {
        code: String,
        input: Input,
        time_ms: i64,
        batch: bool,
        answer: oneshot::Sender<Simulation>,
    },
    Check {
        code: String,
        answer: oneshot::Sender<Result<(), Failure>>,
    },
}

/// The threads that run transformations, started at the first use (a server without
/// transformations starts none). One per core: a run is CPU work, bounded by [`Limits`].
pub struct Pool {
    limits: Limits,
    threads: usize,
    jobs: OnceLock<mpsc::Sender<Job>>,
    /// Versions that needed more than `INLINE_CPU_MS`: they run on the pool only.
    slow: Mutex<std::collections::HashSet<Key>>,
    /// Whether `slow` holds any: until one is, a run takes no lock (the delivery threads would
    /// otherwise contend for it on every transformed delivery).
    any_slow: AtomicBool,
}

impl Pool {
    pub fn new(limits: Limits) -> Self {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        Self { limits, threads, jobs: OnceLock::new(), slow: Mutex::default(), any_slow: AtomicBool::new(false) }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Runs the code of `key` (compiled once per thread and version) on `webhook`: here when it
    /// is quick, on the pool when it once was not.
    pub async fn run(&self, key: Key, code: &str, webhook: Webhook<'_>) -> Result<Outcome, Failure> {
        self.run_input(key, code, webhook.input(), webhook.time_ms, false).await
    }

    /// Runs a destination's code (`key`'s) on a batch: the body to send, as JSON text.
    pub async fn run_batch(&self, key: Key, code: &str, batch: Batch<'_>) -> Result<String, Failure> {
        match self.run_input(key, code, batch.input(), batch.time_ms, true).await? {
            Outcome::Send(shaped) => Ok(shaped.payload),
            Outcome::Cancel => Err(Failure::Returned("cancel: a batch cannot be cancelled".into())),
        }
    }

    async fn run_input(
        &self,
        key: Key,
        code: &str,
        input: Input,
        time_ms: i64,
        batch: bool,
    ) -> Result<Outcome, Failure> {
        let slow = self.any_slow.load(Ordering::Acquire) && self.slow.lock().is_ok_and(|slow| slow.contains(&key));
        if !slow {
            let cpu_ms = INLINE_CPU_MS.min(self.limits.cpu_ms);
            if let Some(result) = run_here(&key, code, &input, time_ms, self.limits, cpu_ms, batch) {
                return result;
            }
            if let Ok(mut slow) = self.slow.lock() {
                if slow.len() >= SLOW_REMEMBERED_MAX {
                    slow.clear();
                }
                slow.insert(key.clone());
                self.any_slow.store(true, Ordering::Release);
            }
        }
        let (answer, answered) = oneshot::channel();
        let job = Job::Run { key, code: code.to_owned(), input, time_ms, batch, answer };
        self.submit(job).await?;
        answered.await.map_err(|_| stopped())?
    }

    /// Compiles `code` afresh and runs it on `webhook`, keeping its console output: nothing is
    /// cached or sent.
    pub async fn simulate(&self, code: &str, webhook: Webhook<'_>) -> Simulation {
        self.simulate_input(code, webhook.input(), webhook.time_ms, false).await
    }

    /// [`Self::simulate`] for a destination's code on a batch: the outcome's payload is the body.
    pub async fn simulate_batch(&self, code: &str, batch: Batch<'_>) -> Simulation {
        self.simulate_input(code, batch.input(), batch.time_ms, true).await
    }

    async fn simulate_input(&self, code: &str, input: Input, time_ms: i64, batch: bool) -> Simulation {
        let (answer, answered) = oneshot::channel();
        let job = Job::Simulate { code: code.to_owned(), input, time_ms, batch, answer };
        if let Err(failure) = self.submit(job).await {
            return Simulation { outcome: Err(failure), console: Vec::new() };
        }
        answered.await.unwrap_or_else(|_| Simulation { outcome: Err(stopped()), console: Vec::new() })
    }

    /// Whether `code` compiles, its top level runs within the limits, and it declares `handler`.
    pub async fn check(&self, code: &str) -> Result<(), Failure> {
        if code.len() > TRANSFORMATION_CODE_BYTES_MAX {
            return Err(Failure::Compile {
                line: None,
                message: format!("the code is {} bytes; at most {TRANSFORMATION_CODE_BYTES_MAX}", code.len()),
            });
        }
        let (answer, answered) = oneshot::channel();
        self.submit(Job::Check { code: code.to_owned(), answer }).await?;
        answered.await.map_err(|_| stopped())?
    }

    async fn submit(&self, job: Job) -> Result<(), Failure> {
        let jobs = self.jobs.get_or_init(|| start(self.threads, self.limits));
        jobs.send(job).await.map_err(|_| stopped())
    }
}

fn stopped() -> Failure {
    Failure::Unavailable("the transformation threads have stopped".into())
}

fn start(threads: usize, limits: Limits) -> mpsc::Sender<Job> {
    let (sender, receiver) = mpsc::channel(QUEUED_MAX);
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..threads {
        let receiver = receiver.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("hookwire-transform-{n}"))
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || serve(&receiver, limits));
        if let Err(error) = spawned {
            eprintln!("cannot start a transformation thread: {error}");
        }
    }
    sender
}

/// One pool thread: takes jobs until every sender is gone (what it compiled stays in its
/// thread-local cache).
fn serve(receiver: &Mutex<mpsc::Receiver<Job>>, limits: Limits) {
    loop {
        let job = receiver.lock().map_or(None, |mut r| r.blocking_recv());
        let Some(job) = job else { return };
        match job {
            Job::Run { key, code, input, time_ms, batch, answer } => {
                let result = run_here(&key, &code, &input, time_ms, limits, limits.cpu_ms, batch);
                let _ = answer.send(result.expect("the whole limit is never run out of inline"));
            }
            Job::Simulate { code, input, time_ms, batch, answer } => {
                let simulation = match Sandbox::new(&code, limits) {
                    Ok(sandbox) => {
                        let (returned, console) = sandbox.call(&input, time_ms, limits.cpu_ms, batch);
                        Simulation { outcome: returned.and_then(outcome), console }
                    }
                    Err(failure) => Simulation { outcome: Err(failure), console: Vec::new() },
                };
                let _ = answer.send(simulation);
            }
            Job::Check { code, answer } => {
                let _ = answer.send(Sandbox::new(&code, limits).map(drop));
            }
        }
    }
}

#[cfg(test)]
mod tests;

#[doc(hidden)]
pub fn direct_cost_probe(code: &str, webhook: Webhook<'_>, runs: usize) {
    let sandbox = Sandbox::new(code, Limits::default()).unwrap();
    let input = webhook.input();
    for _ in 0..runs {
        let (r, _) = sandbox.call(&input, webhook.time_ms, 100, false);
        outcome(r.unwrap()).unwrap();
    }
}
