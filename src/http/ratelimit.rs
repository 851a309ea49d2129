//! Per-client-address token buckets for the public endpoints, and client address resolution.
//!
//! The client address is the socket peer's, unless the peer is a configured trusted proxy, in
//! which case it is the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::ConnectInfo;
use axum::http::Request;

use crate::config::RateLimit;

/// Shards of the bucket table (less lock contention).
const SHARDS: usize = 16;
/// Buckets per shard before idle ones are purged.
const MAX_BUCKETS_PER_SHARD: usize = 10_000;

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

fn shard_of(ip: IpAddr) -> usize {
    (match ip {
        IpAddr::V4(v) => v.octets()[3] as usize,
        IpAddr::V6(v) => v.octets()[7] as usize,
    }) % SHARDS
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token-bucket limiter keyed by client address.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    /// A limiter with the configured rate and burst.
    pub fn new(cfg: &RateLimit) -> Self {
        RateLimiter {
            rate: f64::from(cfg.per_second),
            burst: f64::from(cfg.burst),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// A limiter allowing `per_hour` requests per hour, all of them at once at most.
    pub fn per_hour(per_hour: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_hour) / 3600.0,
            burst: f64::from(per_hour),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes one token for `ip`; `Err(seconds)` says when to retry. IPv6 clients are limited
    /// per /64 (one subscriber's prefix), IPv4 clients per address.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let ip = client_key(ip);
        let shard = shard_of(ip);
        // A poisoned shard only means another request panicked mid-update; the map is still
        // usable, so recover it instead of failing every later request.
        let mut map = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_BUCKETS_PER_SHARD {
            let (rate, burst) = (self.rate, self.burst);
            let level = |b: &Bucket| b.tokens + now.duration_since(b.updated).as_secs_f64() * rate;
            map.retain(|_, b| level(b) < burst);
            if map.len() >= MAX_BUCKETS_PER_SHARD * 3 / 4 {
                // A slow limiter (complaints: hours to refill) under many addresses: forget
                // the half that is fullest, i.e. used least, so the table stays bounded and
                // the purge does not run on every request.
                let mut by_level: Vec<(f64, IpAddr)> =
                    map.iter().map(|(ip, b)| (level(b), *ip)).collect();
                by_level.sort_by(|a, b| a.0.total_cmp(&b.0));
                for (_, ip) in &by_level[by_level.len() / 2..] {
                    map.remove(ip);
                }
            }
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let elapsed = now.duration_since(b.updated).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }

    /// Gives back the token of a request that turned out not to count (e.g. a refused
    /// complaint, so only stored ones use up the quota).
    pub fn refund(&self, ip: IpAddr) {
        let ip = client_key(ip);
        let shard = shard_of(ip);
        let mut map = self.shards[shard].lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(&ip) {
            b.tokens = (b.tokens + 1.0).min(self.burst);
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
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_limits_then_refills() {
        let l = RateLimiter::new(&RateLimit {
            per_second: 2,
            burst: 3,
        });
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t).is_ok());
        }
        assert_eq!(l.check(ip, t), Err(1));
        // Another client is not affected.
        assert!(l.check("192.0.2.2".parse().unwrap(), t).is_ok());
        assert!(l.check(ip, t + Duration::from_millis(600)).is_ok());
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
    fn ipv6_is_limited_per_64_refunds_give_back_and_the_table_stays_bounded() {
        let l = RateLimiter::per_hour(2);
        let t = Instant::now();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(l.check(a, t).is_ok());
        assert!(l.check(b, t).is_ok());
        assert!(l.check(a, t).is_err(), "same /64");
        assert!(l.check(other, t).is_ok());
        l.refund(b);
        assert!(l.check(a, t).is_ok(), "a refunded token");
        // Many addresses on a slow limiter: the table does not grow without bound.
        for i in 0..(SHARDS * MAX_BUCKETS_PER_SHARD * 2) as u32 {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.check(ip, t);
        }
        for shard in &l.shards {
            let n = shard.lock().unwrap().len();
            assert!(n <= MAX_BUCKETS_PER_SHARD, "bounded: {n}");
            assert!(
                n >= MAX_BUCKETS_PER_SHARD / 4,
                "half kept, not all dropped: {n}"
            );
        }
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
