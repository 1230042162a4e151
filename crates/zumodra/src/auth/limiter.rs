//! Fixed-window counters in process: login failures per e-mail and per address, sign-ups
//! per address, requests per tenant. A window starts at the first hit and lasts its
//! period; over the limit → 429 `rate_limited` with the seconds left as `Retry-After`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::sync::Cache;

use crate::http::error::ApiError;

struct Window {
    started: Instant,
    count: AtomicU32,
}

/// Counters keyed by text, each in its own window of `period`.
pub struct Limiter {
    period: Duration,
    windows: Cache<String, Arc<Window>>,
}

impl Limiter {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            windows: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(period)
                .build(),
        }
    }

    fn window(&self, key: String) -> Arc<Window> {
        self.windows.get_with(key, || {
            Arc::new(Window {
                started: Instant::now(),
                count: AtomicU32::new(0),
            })
        })
    }

    fn retry_after(&self, window: &Window) -> u64 {
        self.period
            .saturating_sub(window.started.elapsed())
            .as_secs()
            .max(1)
    }

    /// Count one hit; over `limit` hits in the window → 429.
    pub fn hit(&self, key: String, limit: u32) -> Result<(), ApiError> {
        let window = self.window(key);
        if window.count.fetch_add(1, Ordering::Relaxed) >= limit {
            return Err(ApiError::RateLimited {
                retry_after: self.retry_after(&window),
            });
        }
        Ok(())
    }

    /// 429 if `limit` hits were already counted, without counting this one.
    pub fn check(&self, key: &str, limit: u32) -> Result<(), ApiError> {
        match self.windows.get(key) {
            Some(window) if window.count.load(Ordering::Relaxed) >= limit => {
                Err(ApiError::RateLimited {
                    retry_after: self.retry_after(&window),
                })
            }
            _ => Ok(()),
        }
    }

    /// Count one hit without judging it (a failed login).
    pub fn record(&self, key: String) {
        self.window(key).count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn reset(&self, key: &str) {
        self.windows.invalidate(key);
    }
}

/// Failed logins allowed per e-mail, and per address, in [`LOGIN_WINDOW`].
pub const LOGIN_FAILURES_PER_EMAIL: u32 = 10;
pub const LOGIN_FAILURES_PER_ADDRESS: u32 = 100;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Self-service sign-ups per address per hour.
pub const SIGNUPS_PER_ADDRESS: u32 = 5;

/// Every limiter of the process.
pub struct Limiters {
    pub login_email: Limiter,
    pub login_address: Limiter,
    pub signup_address: Limiter,
    pub tenant_requests: Limiter,
    /// Public job applications per tenant and address ([`CAREERS_APPLIES_PER_ADDRESS`]).
    pub careers_apply: Limiter,
}

/// Public job applications per tenant and address per hour.
pub const CAREERS_APPLIES_PER_ADDRESS: u32 = 20;

impl Default for Limiters {
    fn default() -> Self {
        Self {
            login_email: Limiter::new(LOGIN_WINDOW),
            login_address: Limiter::new(LOGIN_WINDOW),
            signup_address: Limiter::new(Duration::from_secs(3600)),
            tenant_requests: Limiter::new(Duration::from_secs(60)),
            careers_apply: Limiter::new(Duration::from_secs(3600)),
        }
    }
}
