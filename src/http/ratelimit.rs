//! Rate limits of the public endpoints, and client address resolution.
//!
//! The client address is the socket peer's, unless the peer is a configured trusted proxy, in
//! which case it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
//! Clients are limited per IPv4 address and per IPv6 /64 (one subscriber's prefix).
//!
//! The general limit ([`PublicLimiter`]) is `governor`'s keyed GCRA limiter, swept of idle
//! clients as it grows; the complaint quota ([`QuotaLimiter`]) is our own, for the reasons in
//! its module.

mod quota;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ConnectInfo;
use axum::http::Request;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::Quota;

pub use self::quota::QuotaLimiter;
use crate::config::RateLimit;

/// Clients the public limiter holds before idle ones (whose bucket is full again) are swept.
pub const MAX_CLIENTS: usize = 160_000;

/// Registration requests (`POST /api/v1/actor-requests`) one client address may file per
/// hour; a refused one gives its token back.
pub const REGISTRATION_REQUESTS_PER_HOUR: u32 = 6;
/// How often (in checks) the table's size is looked at.
const SWEEP_EVERY: u64 = 256;

/// The limited unit: an IPv4 address, or an IPv6 /64 (IPv4-mapped IPv6 as IPv4).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

type Keyed<C> = governor::RateLimiter<
    IpAddr,
    DashMapStateStore<IpAddr>,
    C,
    NoOpMiddleware<<C as Clock>::Instant>,
>;

/// The public endpoints' limit: `rate_limit.per_second` sustained, `rate_limit.burst` at
/// once, per client.
pub struct PublicLimiter<C: Clock = DefaultClock> {
    limiter: Keyed<C>,
    checks: AtomicU64,
}

impl PublicLimiter {
    /// A limiter with the configured rate and burst.
    pub fn new(cfg: &RateLimit) -> Self {
        Self::with_clock(cfg, DefaultClock::default())
    }
}

impl<C: Clock> PublicLimiter<C> {
    /// The same, on `clock` (tests use a fake one).
    pub fn with_clock(cfg: &RateLimit, clock: C) -> Self {
        let nz = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(nz(cfg.per_second)).allow_burst(nz(cfg.burst));
        PublicLimiter {
            limiter: governor::RateLimiter::dashmap_with_clock(quota, clock),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request's worth for `ip`'s client; `Err(seconds)` says when to retry.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        self.sweep_if_large();
        match self.limiter.check_key(&client_key(ip)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.limiter.clock().now());
                Err(wait.as_secs_f64().ceil().max(1.0) as u64)
            }
        }
    }

    /// Clients held now.
    pub fn clients(&self) -> usize {
        self.limiter.len()
    }

    /// Past [`MAX_CLIENTS`], forgets the clients whose bucket is full again (idle for
    /// `burst / per_second` seconds at most): they start afresh, exactly as if remembered.
    fn sweep_if_large(&self) {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if n % SWEEP_EVERY == 0 && self.limiter.len() > MAX_CLIENTS {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener reports for
/// IPv4 clients) as the IPv4 address it is; any other address as is.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client address of a request (see the module docs), IPv4-mapped IPv6 folded to IPv4
/// (so a proxy is recognised whichever way the listener reports it, and one client is one key).
pub fn client_ip<B>(req: &Request<B>, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| canonical_ip(c.0.ip()))?;
    let trusted_ip = |ip: &IpAddr| trusted.iter().any(|t| canonical_ip(*t) == *ip);
    if !trusted_ip(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for entry in forwarded.iter().rev() {
        match entry.parse::<IpAddr>().map(canonical_ip) {
            Ok(ip) if !trusted_ip(&ip) => return Some(ip),
            Ok(_) => continue,
            // A garbled hop: stop believing the chain here and use the proxy itself.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;
    use std::time::Duration;

    fn limiter(
        per_second: u32,
        burst: u32,
    ) -> (PublicLimiter<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        let cfg = RateLimit { per_second, burst };
        (PublicLimiter::with_clock(&cfg, clock.clone()), clock)
    }

    #[test]
    fn bucket_allows_burst_then_limits_then_refills() {
        let (l, clock) = limiter(2, 3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip).is_ok());
        }
        assert_eq!(l.check(ip), Err(1));
        // Another client is not affected.
        assert!(l.check("192.0.2.2".parse().unwrap()).is_ok());
        clock.advance(Duration::from_millis(600));
        assert!(l.check(ip).is_ok());
        assert!(l.check(ip).is_err());
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let (l, _clock) = limiter(1, 1);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check(a).is_ok());
        assert!(l.check(b).is_err(), "same /64");
        assert!(l.check(other).is_ok());
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert!(l.check(mapped).is_ok());
        assert!(
            l.check("192.0.2.9".parse().unwrap()).is_err(),
            "mapped is IPv4"
        );
    }

    #[test]
    fn a_rotating_flood_leaves_the_table_bounded() {
        // 10 requests a second, burst 20: a bucket is full again 2 s after its last use.
        // 600,000 new clients at 20,000 a second (30 s): at most 2 s of them are held at
        // once (40,000), plus the checks between sweeps; with no sweep all 600,000 would be.
        let (l, clock) = limiter(10, 20);
        let mut most = 0;
        for i in 0..600_000u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.check(ip).is_ok());
            clock.advance(Duration::from_micros(50));
            most = most.max(l.clients());
        }
        assert!(most <= MAX_CLIENTS + SWEEP_EVERY as usize, "held {most}");
        assert!(
            most > MAX_CLIENTS / 2,
            "the sweep waits for the bound: {most}"
        );
    }

    fn req(peer: &str, xff: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        r.extensions_mut()
            .insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        if let Some(x) = xff {
            r.headers_mut()
                .insert("x-forwarded-for", x.parse().unwrap());
        }
        r
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let spoof = req("198.51.100.7:1234", Some("1.2.3.4"));
        assert_eq!(
            client_ip(&spoof, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
        let via = req("127.0.0.1:1234", Some("1.2.3.4, 5.6.7.8"));
        assert_eq!(client_ip(&via, &[proxy]), Some("5.6.7.8".parse().unwrap()));
        let garbled = req("127.0.0.1:1234", Some("nonsense"));
        assert_eq!(client_ip(&garbled, &[proxy]), Some(proxy));
        // A dual-stack listener reports IPv4 peers as IPv4-mapped IPv6: the same proxy, and
        // the same client, as their IPv4 selves.
        let mapped = req("[::ffff:127.0.0.1]:1234", Some("::ffff:5.6.7.8"));
        assert_eq!(
            client_ip(&mapped, &[proxy]),
            Some("5.6.7.8".parse().unwrap())
        );
        let direct = req("[::ffff:198.51.100.7]:1234", None);
        assert_eq!(
            client_ip(&direct, &[proxy]),
            Some("198.51.100.7".parse().unwrap())
        );
    }
}
