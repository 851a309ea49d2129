//! The state every handler shares, and the bridge from async handlers to the blocking service.

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::metrics::Metrics;
use super::ratelimit::{self, PublicLimiter, QuotaLimiter};
use super::server;
use crate::config::Config;
use crate::service::anchoring::AnchorSlot;
use crate::service::verify::Verifier;
use crate::service::{Service, ServiceError};

/// Shared state of every handler.
pub struct AppState {
    /// The service.
    pub svc: Arc<Service>,
    /// SHA-256 of the bootstrap operator token (compared in constant time); `None` once it is
    /// retired (an empty token).
    pub token_digest: Option<[u8; 32]>,
    /// Request metrics.
    pub metrics: Metrics,
    /// Public endpoint limiter.
    pub limiter: PublicLimiter,
    /// Complaint limiter (`complaints.per_hour` per client address).
    pub complaint_limiter: QuotaLimiter,
    /// Registration requests per client address ([`ratelimit::REGISTRATION_REQUESTS_PER_HOUR`]).
    pub registration_limiter: QuotaLimiter,
    /// Failed sign-ins per client network (`sessions.network_failures_per_hour`).
    pub sign_in_limiter: QuotaLimiter,
    /// Password hashes computed at once ([`hashing_slots`]).
    pub hashing: tokio::sync::Semaphore,
    /// The configuration in force.
    pub config: Config,
    /// Scans and bundles (the service with the anchoring worker: off, waiting for the
    /// chain, or ready).
    pub verifier: Verifier,
    /// Connection counters of the server loop.
    pub conns: Arc<server::ConnStats>,
}

impl AppState {
    /// State for `svc`, the operator token and the config.
    pub fn new(svc: Arc<Service>, operator_token: &str, config: Config) -> Arc<Self> {
        Arc::new(Self::build(svc, operator_token, config, AnchorSlot::off()))
    }

    /// The same, with anchoring.
    pub fn with_anchor(
        svc: Arc<Service>,
        operator_token: &str,
        config: Config,
        anchor: AnchorSlot,
    ) -> Arc<Self> {
        Arc::new(Self::build(svc, operator_token, config, anchor))
    }

    fn build(svc: Arc<Service>, operator_token: &str, config: Config, anchor: AnchorSlot) -> Self {
        let verifier = Verifier::new(svc.clone(), Arc::new(anchor));
        let conns = Arc::<server::ConnStats>::default();
        let metrics = Metrics::new(svc.clone(), conns.clone());
        AppState {
            svc,
            token_digest: (!operator_token.trim().is_empty())
                .then(|| Sha256::digest(operator_token.trim().as_bytes()).into()),
            metrics,
            limiter: PublicLimiter::new(&config.rate_limit),
            complaint_limiter: QuotaLimiter::per_hour(config.complaints.per_hour),
            registration_limiter: QuotaLimiter::per_hour(ratelimit::REGISTRATION_REQUESTS_PER_HOUR),
            sign_in_limiter: QuotaLimiter::per_hour(config.sessions.network_failures_per_hour),
            hashing: tokio::sync::Semaphore::new(hashing_slots()),
            verifier,
            config,
            conns,
        }
    }

    /// The client address of a request (socket peer, or forwarded by a trusted proxy).
    pub fn client_ip<B>(&self, req: &axum::http::Request<B>) -> Option<IpAddr> {
        ratelimit::client_ip(req, &self.config.trusted_proxies)
    }
}

/// Password hashes (argon2id, 19 MiB each) computed at once, at most: half the cores (at
/// least one), so a flood of sign-ins leaves the other half to scans; further sign-ins and new
/// users wait for a slot.
pub fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Runs blocking service work off the async executor.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ServiceError::Internal(format!("worker task failed: {e}")).into()),
    }
}
