//! An in-memory copy of applications and of each application's endpoints, read on every message
//! accept. Every write invalidates it. On SQLite that makes it exact (this process is the only
//! writer); on PostgreSQL every node also invalidates when any node's write is announced (a
//! trigger NOTIFYs `hookwire_config`), and uses the cache only while it is listening. A
//! generation counter keeps a read that raced a write from caching stale data.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hookwire_core::AppId;
use hookwire_core::model::{Application, Endpoint};

/// Entries kept before the cache starts over (it refills on demand).
const CACHE_ENTRIES_MAX: usize = 10_000;

#[derive(Default)]
pub(crate) struct ConfigCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: u64,
    /// By id and by uid.
    apps: HashMap<String, Application>,
    /// Shared: a message accept takes its application's endpoints without copying them.
    endpoints: HashMap<AppId, Vec<Arc<Endpoint>>>,
}

impl ConfigCache {
    /// The generation to hand back to `put_*` after reading from the database.
    pub fn generation(&self) -> u64 {
        self.state.lock().expect("cache poisoned").generation
    }

    pub fn app(&self, key: &str) -> Option<Application> {
        self.state.lock().expect("cache poisoned").apps.get(key).cloned()
    }

    pub fn put_app(&self, generation: u64, app: &Application) {
        let mut state = self.state.lock().expect("cache poisoned");
        if state.generation != generation {
            return;
        }
        if state.apps.len() >= CACHE_ENTRIES_MAX {
            state.apps.clear();
        }
        state.apps.insert(app.id.to_string(), app.clone());
        if let Some(uid) = &app.uid {
            state.apps.insert(uid.clone(), app.clone());
        }
    }

    pub fn endpoints(&self, app: AppId) -> Option<Vec<Arc<Endpoint>>> {
        self.state.lock().expect("cache poisoned").endpoints.get(&app).cloned()
    }

    pub fn put_endpoints(&self, generation: u64, app: AppId, endpoints: &[Arc<Endpoint>]) {
        let mut state = self.state.lock().expect("cache poisoned");
        if state.generation != generation {
            return;
        }
        if state.endpoints.len() >= CACHE_ENTRIES_MAX {
            state.endpoints.clear();
        }
        state.endpoints.insert(app, endpoints.to_vec());
    }

    /// Forgets everything; called after every configuration write.
    pub fn invalidate(&self) {
        let mut state = self.state.lock().expect("cache poisoned");
        state.generation += 1;
        state.apps.clear();
        state.endpoints.clear();
    }
}
