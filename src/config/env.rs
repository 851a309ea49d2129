//! Configuration from the environment: one table of `TRACESEAL_…` variables, each with how it
//! sets its field. Every variable overrides the file's value.

use super::{Config, ConfigError, LogFormat};

/// How one environment variable sets the configuration: (config, variable name, value).
type EnvSetter = fn(&mut Config, &'static str, String) -> Result<(), ConfigError>;

/// `TRACESEAL_…` variable whose value is parsed (`FromStr`) into a field.
macro_rules! parsed {
    ($($field:tt)+) => {
        |c: &mut Config, name: &'static str, v: String| {
            c.$($field)+ = parse(name, v)?;
            Ok(())
        }
    };
}

/// `TRACESEAL_…` variable whose value is a field's text as it is.
macro_rules! text {
    ($($field:tt)+) => {
        |c: &mut Config, _: &'static str, v: String| {
            c.$($field)+ = v;
            Ok(())
        }
    };
}

/// Every environment variable `traceseal serve` reads, in the order they apply (each
/// overrides the file's value; `docs/operations.md` lists them with their meaning).
const ENV_VARS: &[(&str, EnvSetter)] = &[
    ("TRACESEAL_LISTEN", parsed!(listen)),
    ("TRACESEAL_PUBLIC_HOST", text!(public_host)),
    (
        "TRACESEAL_CHECKPOINT_INTERVAL_MS",
        parsed!(checkpoint_interval_ms),
    ),
    (
        "TRACESEAL_HEADER_READ_TIMEOUT_MS",
        parsed!(server.header_read_timeout_ms),
    ),
    (
        "TRACESEAL_BODY_READ_TIMEOUT_MS",
        parsed!(server.body_read_timeout_ms),
    ),
    ("TRACESEAL_IDLE_TIMEOUT_MS", parsed!(server.idle_timeout_ms)),
    ("TRACESEAL_MAX_CONNECTIONS", parsed!(server.max_connections)),
    ("TRACESEAL_METRICS_LISTEN", |c, name, v| {
        c.server.metrics_listen = if v.is_empty() {
            None
        } else {
            Some(parse(name, v)?)
        };
        Ok(())
    }),
    ("TRACESEAL_SCAN_WINDOW_DAYS", parsed!(scan.window_days)),
    ("TRACESEAL_SCAN_REPEAT_SECS", parsed!(scan.repeat_secs)),
    (
        "TRACESEAL_WARN_AFTER_NETWORKS",
        parsed!(scan.warn_after_networks),
    ),
    ("TRACESEAL_CREDIT_MODEL", |c, _, v| {
        c.credit.model_file = Some(v.into());
        Ok(())
    }),
    ("TRACESEAL_LABEL_FONT", |c, _, v| {
        c.labels.font = v.into();
        Ok(())
    }),
    (
        "TRACESEAL_CUSTODY_FRESHNESS_SECS",
        parsed!(custody.freshness_secs),
    ),
    (
        "TRACESEAL_CUSTODY_ON_TIME_CLEARANCE_HOURS",
        parsed!(custody.on_time_clearance_hours),
    ),
    (
        "TRACESEAL_CUSTODY_ON_TIME_RECEIVING_HOURS",
        parsed!(custody.on_time_receiving_hours),
    ),
    ("TRACESEAL_DEMO", |c, name, v| {
        c.custody.demo_on_init = flag(name, v)?;
        Ok(())
    }),
    ("TRACESEAL_RATE_PER_SECOND", parsed!(rate_limit.per_second)),
    ("TRACESEAL_CHAIN_PUBLIC_RPC", text!(chain.public_rpc_url)),
    (
        "TRACESEAL_COMPLAINTS_PER_HOUR",
        parsed!(complaints.per_hour),
    ),
    (
        "TRACESEAL_COMPLAINTS_PER_SCAN",
        parsed!(complaints.per_scan),
    ),
    ("TRACESEAL_RATE_BURST", parsed!(rate_limit.burst)),
    (
        "TRACESEAL_SESSION_IDLE_MINUTES",
        parsed!(sessions.idle_minutes),
    ),
    (
        "TRACESEAL_SESSION_ABSOLUTE_HOURS",
        parsed!(sessions.absolute_hours),
    ),
    (
        "TRACESEAL_LOGIN_FAILURES_PER_HOUR",
        parsed!(sessions.network_failures_per_hour),
    ),
    ("TRACESEAL_TRUSTED_PROXIES", |c, name, v| {
        c.trusted_proxies = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| parse(name, s.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(())
    }),
    ("TRACESEAL_MAX_BODY_BYTES", parsed!(max_body_bytes)),
    ("TRACESEAL_CHAIN_ENABLED", |c, name, v| {
        c.chain.enabled = flag(name, v)?;
        Ok(())
    }),
    ("TRACESEAL_CHAIN_RPC", text!(chain.rpc_url)),
    ("TRACESEAL_CHAIN_ID", parsed!(chain.chain_id)),
    ("TRACESEAL_CHAIN_CONTRACT", text!(chain.contract)),
    ("TRACESEAL_ANCHOR_KEY", text!(chain.anchor_key)),
    (
        "TRACESEAL_CHAIN_CONFIRMATIONS",
        parsed!(chain.confirmations),
    ),
    (
        "TRACESEAL_ANCHOR_INTERVAL_MS",
        parsed!(chain.anchor_interval_ms),
    ),
    (
        "TRACESEAL_ANCHOR_MIN_NEW_LEAVES",
        parsed!(chain.min_new_leaves),
    ),
    ("TRACESEAL_ANCHOR_POLL_MS", parsed!(chain.poll_ms)),
    ("TRACESEAL_MAX_FEE_GWEI", parsed!(chain.max_fee_gwei)),
    ("TRACESEAL_DEV_CHAIN_PORT", parsed!(chain.dev_port)),
    ("TRACESEAL_LOG_FORMAT", |c, name, v| {
        c.log_format = match v.as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(env_error(name, v, "expected text or json")),
        };
        Ok(())
    }),
];

fn env_error(name: &'static str, value: String, message: impl Into<String>) -> ConfigError {
    ConfigError::Env {
        name,
        value,
        message: message.into(),
    }
}

fn parse<T: std::str::FromStr>(name: &'static str, value: String) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    value.parse::<T>().map_err(|e| {
        let message = e.to_string();
        env_error(name, value, message)
    })
}

fn flag(name: &'static str, value: String) -> Result<bool, ConfigError> {
    match value.as_str() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(env_error(name, value, "expected true or false")),
    }
}

impl Config {
    pub(super) fn apply_env(
        &mut self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (name, set) in ENV_VARS {
            if let Some(v) = env(name) {
                set(self, name, v)?;
            }
        }
        Ok(())
    }
}
