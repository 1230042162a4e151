//! The in-process backend: moka, with per-scope generations in a map.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::CacheScope;

#[derive(Clone)]
struct Entry {
    expires: Instant,
    value: Arc<[u8]>,
}

pub(super) struct MemoryBackend {
    entries: moka::sync::Cache<(CacheScope, u64, String), Entry>,
    // Never evicted: a forgotten generation would restart at 0 and revive old entries.
    // One integer per tenant that ever invalidated.
    generations: Mutex<HashMap<CacheScope, u64>>,
}

impl MemoryBackend {
    pub(super) fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                // An upper bound; each entry's own TTL is checked on read.
                .time_to_live(Duration::from_secs(24 * 3600))
                .build(),
            generations: Mutex::new(HashMap::new()),
        }
    }

    fn generation(&self, scope: CacheScope) -> u64 {
        let map = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&scope).copied().unwrap_or(0)
    }

    pub(super) fn lookup(&self, scope: CacheScope, key: &str) -> (u64, Option<Arc<[u8]>>) {
        let generation = self.generation(scope);
        let full = (scope, generation, key.to_owned());
        let value = match self.entries.get(&full) {
            Some(entry) if entry.expires > Instant::now() => Some(entry.value),
            Some(_) => {
                self.entries.invalidate(&full);
                None
            }
            None => None,
        };
        (generation, value)
    }

    pub(super) fn store(
        &self,
        scope: CacheScope,
        generation: u64,
        key: &str,
        value: Vec<u8>,
        ttl: Duration,
    ) {
        self.entries.insert(
            (scope, generation, key.to_owned()),
            Entry {
                expires: Instant::now() + ttl,
                value: value.into(),
            },
        );
    }

    /// Forget every entry (notifications may have been missed). Known generations move
    /// on too, so a load that started before cannot store under a current generation.
    pub(super) fn forget_all(&self) {
        {
            let mut map = self.generations.lock().unwrap_or_else(|e| e.into_inner());
            for generation in map.values_mut() {
                *generation += 1;
            }
        }
        self.entries.invalidate_all();
    }

    pub(super) fn bump(&self, scope: CacheScope) {
        let mut map = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(scope).or_insert(0) += 1;
    }
}
