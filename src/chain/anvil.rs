//! The local development chain: a pinned anvil (npm `@foundry-rs/anvil-linux-amd64`, see
//! `tools/package.json`) run as a child process.
//!
//! `traceseal serve` starts one when no RPC URL is configured, with its state persisted under
//! the data directory (`chain/anvil-state.json`, dumped every second and on exit) and its output
//! in `chain/anvil.log`; a supervisor restarts it if it dies. Tests start one on a free port.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chain id of the development chain.
pub const DEV_CHAIN_ID: u64 = 31337;

/// How to run anvil.
#[derive(Clone, Debug)]
pub struct AnvilOptions {
    /// The anvil executable.
    pub binary: PathBuf,
    /// Port on 127.0.0.1 (0: pick a free one).
    pub port: u16,
    /// Seconds between blocks; `None` mines one block per transaction (automine).
    pub block_time: Option<u64>,
    /// State file loaded at start and dumped every second and on exit.
    pub state: Option<PathBuf>,
    /// Where anvil's output goes (`None`: discarded).
    pub log: Option<PathBuf>,
    /// Slots per epoch: the `finalized` tag trails the head by two epochs.
    pub slots_in_an_epoch: u64,
}

impl AnvilOptions {
    /// Defaults: the binary from [`find_binary`], a free port, automine, no state.
    pub fn new(binary: PathBuf) -> AnvilOptions {
        AnvilOptions {
            binary,
            port: 0,
            block_time: None,
            state: None,
            log: None,
            slots_in_an_epoch: 32,
        }
    }
}

/// Why the development node could not be found or started.
#[derive(Debug, thiserror::Error)]
pub enum AnvilError {
    /// `TRACESEAL_ANVIL` names a missing file.
    #[error("TRACESEAL_ANVIL={} does not exist", .0.display())]
    EnvMissing(PathBuf),
    /// No binary in any place looked at.
    #[error("anvil not found (tried {}, and PATH); run `./scripts/dev setup` (npm ci in tools/) or set TRACESEAL_ANVIL", list(.0))]
    NotFound(Vec<PathBuf>),
    /// A file or directory it needs could not be made, or the process not spawned.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file, directory or binary.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// It exited before answering.
    #[error("anvil exited at start ({status}); is port {port} in use? see its log")]
    Exited {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The port it was given.
        port: u16,
    },
    /// It did not answer JSON-RPC in time.
    #[error("anvil did not answer on {addr} within {limit:?}")]
    NoAnswer {
        /// Where it was asked.
        addr: SocketAddr,
        /// How long we waited.
        limit: Duration,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> AnvilError + '_ {
    move |source| AnvilError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the pinned anvil is: `$TRACESEAL_ANVIL`, then `tools/node_modules/.bin/anvil` under the
/// current directory, then under the source tree this binary was built from, then `PATH`.
pub fn find_binary() -> Result<PathBuf, AnvilError> {
    if let Ok(p) = std::env::var("TRACESEAL_ANVIL") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(AnvilError::EnvMissing(p))
        };
    }
    let rel = Path::new("tools/node_modules/.bin/anvil");
    let mut tried = vec![rel.to_path_buf()];
    if rel.is_file() {
        return Ok(rel.to_path_buf());
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    if built.is_file() {
        return Ok(built);
    }
    tried.push(built);
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("anvil");
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(AnvilError::NotFound(tried))
}

/// A free TCP port on 127.0.0.1 (bound then released).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A running anvil; killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Option<Child>,
    opts: AnvilOptions,
}

impl Anvil {
    /// Starts anvil and waits (up to 20 s) until it answers JSON-RPC.
    pub fn start(mut opts: AnvilOptions) -> Result<Anvil, AnvilError> {
        if opts.port == 0 {
            opts.port = free_port().map_err(io_at(Path::new("127.0.0.1:0")))?;
        }
        let mut a = Anvil { child: None, opts };
        a.spawn()?;
        Ok(a)
    }

    fn spawn(&mut self) -> Result<(), AnvilError> {
        let o = &self.opts;
        let mut cmd = Command::new(&o.binary);
        cmd.arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(o.port.to_string())
            .arg("--chain-id")
            .arg(DEV_CHAIN_ID.to_string())
            .arg("--slots-in-an-epoch")
            .arg(o.slots_in_an_epoch.to_string());
        if let Some(bt) = o.block_time {
            cmd.arg("--block-time").arg(bt.to_string());
        }
        if let Some(state) = &o.state {
            if let Some(parent) = state.parent() {
                std::fs::create_dir_all(parent).map_err(io_at(parent))?;
            }
            cmd.arg("--state")
                .arg(state)
                .arg("--state-interval")
                .arg("1");
        }
        match &o.log {
            Some(log) => {
                let f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .map_err(io_at(log))?;
                let f2 = f.try_clone().map_err(io_at(log))?;
                cmd.stdout(Stdio::from(f)).stderr(Stdio::from(f2));
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        cmd.stdin(Stdio::null());
        let child = cmd.spawn().map_err(io_at(&o.binary))?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20))
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), AnvilError> {
        let deadline = Instant::now() + limit;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.opts.port));
        loop {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(AnvilError::Exited {
                        status,
                        port: self.opts.port,
                    });
                }
            }
            if rpc_answers(addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(AnvilError::NoAnswer { addr, limit });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.opts.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.opts.port
    }

    /// The options it runs with.
    pub fn options(&self) -> &AnvilOptions {
        &self.opts
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => !matches!(c.try_wait(), Ok(None)),
            None => true,
        }
    }

    /// SIGKILL (no state dump) and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM (anvil dumps its state) and wait up to 10 s, then SIGKILL.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again with the same options (same port, same state file).
    pub fn restart(&mut self) -> Result<(), AnvilError> {
        self.kill();
        self.spawn()
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `eth_chainId` answers on `addr` (plain HTTP/1.1 over a TCP socket, 1 s timeout).
fn rpc_answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.starts_with("HTTP/1.1 200") && out.contains("\"result\"")
}
