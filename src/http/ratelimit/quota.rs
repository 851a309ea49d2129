//! A per-client quota that refills slowly (the complaint quota: `complaints.per_hour`), with
//! two things `governor`'s keyed limiter (which the public endpoints use) does not do:
//!
//! - **refunds**: a request that turns out not to count (a refused complaint) gives its token
//!   back, so only stored complaints use up the quota;
//! - **a bounded table under address rotation**: a bucket takes an hour to refill, so an
//!   expiry sweep (`governor`'s `retain_recent`) would keep every address seen in the last
//!   hour. This table holds at most 10,000 buckets per shard: when full it drops the full
//!   buckets and then the fuller half, keeping the clients that used their quota. The test
//!   below floods it with 320,000 addresses; `docs/performance.md` compares the two.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use super::client_key;

/// Shards of the bucket table (less lock contention).
const SHARDS: usize = 16;
/// Buckets per shard before idle ones are purged.
const MAX_BUCKETS_PER_SHARD: usize = 10_000;

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

/// Token-bucket quota keyed by client address.
pub struct QuotaLimiter {
    rate: f64,
    burst: f64,
    shards: Vec<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl QuotaLimiter {
    /// A limiter allowing `per_hour` requests per hour, all of them at once at most.
    pub fn per_hour(per_hour: u32) -> Self {
        QuotaLimiter {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_quota_refills_at_its_hourly_rate() {
        let l = QuotaLimiter::per_hour(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        for _ in 0..3 {
            assert!(l.check(ip, t).is_ok());
        }
        // One token comes back every 20 minutes.
        assert_eq!(l.check(ip, t), Err(1200));
        assert!(
            l.check("192.0.2.2".parse().unwrap(), t).is_ok(),
            "another client"
        );
        assert!(l.check(ip, t + Duration::from_secs(1201)).is_ok());
        assert!(l.check(ip, t + Duration::from_secs(1201)).is_err());
    }

    #[test]
    fn ipv6_is_limited_per_64_refunds_give_back_and_the_table_stays_bounded() {
        let l = QuotaLimiter::per_hour(2);
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
}
