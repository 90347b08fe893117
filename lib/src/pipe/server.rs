//! The event loop of `yd-pipe`: one thread, one `mio` poll over the
//! listeners, every connection's sockets and a signalfd.
//!
//! Tokens: [`SIGNALS`], then one per listener, then two per connection
//! slot (client, target). A slot is reused after its connection ends; a
//! stale event for a reused slot only causes one extra `pump`, which finds
//! nothing to move.

use super::bridge::Bridge;
use super::endpoint::Target;
use super::exports::Exports;
use crate::cli::warn;
use crate::sys::{self, net, Spawn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::signal::Signal;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

const PROG: &str = "yd-pipe";
const SIGNALS: Token = Token(0);
const FIRST_LISTENER: usize = 1;
/// A unix target whose queue is full is tried again this often...
const RETRY_EVERY: Duration = Duration::from_millis(10);
/// ...for this long before the connection is given up.
const RETRY_FOR: Duration = Duration::from_secs(5);

pub struct Listener {
    pub fd: OwnedFd,
    /// For an export socket: who may connect. `None`: whoever can open the
    /// socket file (its mode and dir say who).
    pub acl: Option<Exports>,
}

enum Slot {
    Free,
    /// Waiting for a TCP handshake to finish.
    Connecting {
        client: OwnedFd,
        target: OwnedFd,
    },
    /// The unix target's queue was full; try again from time to time.
    Retrying {
        client: OwnedFd,
        since: Instant,
    },
    Open(Bridge),
}

pub struct Server {
    poll: Poll,
    target: Target,
    listeners: Vec<Listener>,
    signals: nix::sys::signalfd::SignalFd,
    slots: Vec<Slot>,
    free: Vec<usize>,
    /// Connections (or, for `exec`, children) alive now.
    active: usize,
    max: usize,
    /// The programs started for `exec` connections. Only these count as
    /// connections when reaped: as PID 1 (of a container) we also reap
    /// orphans that are none of ours.
    children: HashSet<u32>,
    /// At `max` (or out of fds), listeners are left alone...
    paused: bool,
    /// ...until a connection ends.
    freed: bool,
    retrying: Vec<usize>,
}

impl Server {
    pub fn new(target: Target, listeners: Vec<Listener>, max: usize) -> io::Result<Server> {
        let signals = sys::signal_fd(&[
            Signal::SIGTERM,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGCHLD,
        ])?;
        let poll = Poll::new()?;
        poll.registry().register(
            &mut SourceFd(&signals.as_raw_fd()),
            SIGNALS,
            Interest::READABLE,
        )?;
        for (i, l) in listeners.iter().enumerate() {
            poll.registry().register(
                &mut SourceFd(&l.fd.as_raw_fd()),
                Token(FIRST_LISTENER + i),
                Interest::READABLE,
            )?;
        }
        Ok(Server {
            poll,
            target,
            listeners,
            signals,
            slots: Vec::new(),
            free: Vec::new(),
            active: 0,
            max,
            children: HashSet::new(),
            paused: false,
            freed: false,
            retrying: Vec::new(),
        })
    }

    /// Serve until told to stop (SIGTERM, SIGINT, SIGHUP): then exit 0.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            let timeout = (!self.retrying.is_empty()).then_some(RETRY_EVERY);
            match self.poll.poll(&mut events, timeout) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => r?,
            }
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        if self.on_signals()? {
                            return Ok(());
                        }
                    }
                    Token(t) if t < self.first_slot_token() => self.accept_from(t - FIRST_LISTENER),
                    Token(t) => self.on_socket((t - self.first_slot_token()) / 2),
                }
            }
            self.retry_waiting();
            self.resume_if_paused();
        }
    }

    fn first_slot_token(&self) -> usize {
        FIRST_LISTENER + self.listeners.len()
    }

    /// `true` when the program should stop.
    fn on_signals(&mut self) -> io::Result<bool> {
        let mut stop = false;
        for sig in sys::read_signals(&mut self.signals)? {
            match sig {
                Signal::SIGCHLD => {
                    while let Some((pid, _)) = sys::reap_any() {
                        if self.children.remove(&pid) {
                            self.ended();
                        }
                    }
                }
                _ => stop = true,
            }
        }
        Ok(stop)
    }

    fn accept_from(&mut self, index: usize) {
        while self.active < self.max {
            let listener = &self.listeners[index];
            let client = match net::accept(listener.fd.as_raw_fd()) {
                Ok(Some(fd)) => fd,
                Ok(None) => return,
                // Out of fds or memory: this connection waits in the queue;
                // an ending connection frees what it needs.
                Err(e) => {
                    warn(PROG, format_args!("accepting: {e}"));
                    self.paused = true;
                    return;
                }
            };
            let peer = match net::peer_cred(&client) {
                Ok(p) => p,
                Err(_) => continue,
            };
            if let Some(acl) = &listener.acl {
                if !acl.admits(peer.uid) {
                    warn(
                        PROG,
                        format_args!("export: uid {} is not a consumer: refused", peer.uid),
                    );
                    continue;
                }
            }
            match &self.target {
                Target::Exec(argv) => self.exec(client, peer, argv.clone()),
                _ => self.connect(client),
            }
        }
        self.paused = true;
    }

    /// A connection (or a program serving one) ended.
    fn ended(&mut self) {
        self.active -= 1;
        self.freed = true;
    }

    fn resume_if_paused(&mut self) {
        if self.paused && self.freed && self.active < self.max {
            self.paused = false;
            self.freed = false;
            // Edge-triggered: the queue will not announce itself again.
            for i in 0..self.listeners.len() {
                self.accept_from(i);
            }
        }
    }

    /// inetd's and s6-ipcserver's way: the program gets the connection as
    /// its stdin and stdout, the peer's credentials in its environment.
    fn exec(&mut self, client: OwnedFd, peer: net::PeerCred, argv: Vec<std::ffi::OsString>) {
        let env = [
            ("PROTO", "IPC".to_string()),
            ("IPCREMOTEEUID", peer.uid.to_string()),
            ("IPCREMOTEEGID", peer.gid.to_string()),
            ("YD_PEER_UID", peer.uid.to_string()),
            ("YD_PEER_GID", peer.gid.to_string()),
            ("YD_PEER_PID", peer.pid.to_string()),
        ];
        let args: Vec<&OsStr> = argv[1..].iter().map(|a| a.as_os_str()).collect();
        let program = Path::new(&argv[0]);
        let spawned = net::set_blocking(&client)
            .and_then(|()| client.try_clone())
            .and_then(|stdout| {
                sys::spawn(Spawn {
                    program,
                    arg0: &argv[0].to_string_lossy(),
                    args: &args,
                    env: &env,
                    cwd: Path::new("."),
                    stdin: Some(client),
                    stdout: Some(stdout),
                    extra_fd: None,
                    new_session: false,
                })
            });
        match spawned {
            Ok(pid) => {
                self.children.insert(pid);
                self.active += 1;
            }
            Err(e) => warn(PROG, format_args!("{}: {e}", program.display())),
        }
    }

    fn connect(&mut self, client: OwnedFd) {
        let index = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Slot::Free);
            self.slots.len() - 1
        });
        if let Err(e) = self.watch(client.as_raw_fd(), index, 0) {
            warn(PROG, format_args!("watching a connection: {e}"));
            self.free.push(index);
            return;
        }
        self.active += 1;
        let attempt = self.dial();
        self.dialed(index, client, attempt, Instant::now());
    }

    fn target_is_tcp(&self) -> bool {
        matches!(self.target, Target::Tcp(_))
    }

    fn dial(&self) -> io::Result<net::Connect> {
        match &self.target {
            Target::Unix(path) => net::connect_unix(path),
            Target::Imported { dir, name } => net::connect_unix_nofollow(dir, name.as_ref()),
            Target::Tcp(addr) => net::connect_tcp(*addr),
            Target::Exec(_) => unreachable!("exec targets are not connected to"),
        }
    }

    /// Put a connection whose target was dialled (first, or again since
    /// `since`) in its next state.
    fn dialed(
        &mut self,
        index: usize,
        client: OwnedFd,
        attempt: io::Result<net::Connect>,
        since: Instant,
    ) {
        let slot = match attempt {
            Ok(net::Connect::Ready(target)) => self
                .watch(target.as_raw_fd(), index, 1)
                .and_then(|()| Bridge::new(client, target, self.target_is_tcp()))
                .map(Slot::Open),
            Ok(net::Connect::InProgress(target)) => self
                .watch(target.as_raw_fd(), index, 1)
                .map(|()| Slot::Connecting { client, target }),
            Ok(net::Connect::Busy) if since.elapsed() < RETRY_FOR => {
                self.retrying.push(index);
                Ok(Slot::Retrying { client, since })
            }
            Ok(net::Connect::Busy) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "its queue stays full",
            )),
            Err(e) => Err(e),
        };
        match slot {
            Ok(slot) => {
                self.slots[index] = slot;
                self.on_socket(index);
            }
            // This connection fails, the pipeline goes on: the target may
            // simply not be up yet.
            Err(e) => {
                warn(PROG, format_args!("connecting to {}: {e}", self.target));
                self.close(index);
            }
        }
    }

    /// Watch one socket of a slot (`side` 0: client, 1: target), both ways,
    /// edge-triggered.
    fn watch(&self, fd: RawFd, index: usize, side: usize) -> io::Result<()> {
        let token = Token(self.first_slot_token() + 2 * index + side);
        self.poll.registry().register(
            &mut SourceFd(&fd),
            token,
            Interest::READABLE | Interest::WRITABLE,
        )
    }

    /// Something happened on a connection: move it on.
    fn on_socket(&mut self, index: usize) {
        let slot = std::mem::replace(&mut self.slots[index], Slot::Free);
        let next = match slot {
            Slot::Free => return,
            Slot::Connecting { client, target } => match net::connect_outcome(&target) {
                Ok(true) => match Bridge::new(client, target, self.target_is_tcp()) {
                    Ok(b) => Some(Slot::Open(b)),
                    Err(e) => {
                        warn(PROG, format_args!("making pipes: {e}"));
                        None
                    }
                },
                // Still under way (an event on the client side).
                Ok(false) => Some(Slot::Connecting { client, target }),
                Err(e) => {
                    warn(PROG, format_args!("connecting to {}: {e}", self.target));
                    None
                }
            },
            waiting @ Slot::Retrying { .. } => Some(waiting),
            Slot::Open(b) => Some(Slot::Open(b)),
        };
        match next {
            Some(Slot::Open(mut b)) => match b.pump() {
                Ok(false) => self.slots[index] = Slot::Open(b),
                Ok(true) => self.close(index),
                Err(e) => {
                    warn(PROG, format_args!("moving data: {e}"));
                    self.close(index)
                }
            },
            Some(other) => self.slots[index] = other,
            None => self.close(index),
        }
    }

    /// Forget a finished connection. Its fds are closed here, which also
    /// takes them out of the poll (an fd closed is gone from epoll).
    fn close(&mut self, index: usize) {
        self.slots[index] = Slot::Free;
        self.free.push(index);
        self.ended();
    }

    fn retry_waiting(&mut self) {
        for index in std::mem::take(&mut self.retrying) {
            if let Slot::Retrying { client, since } =
                std::mem::replace(&mut self.slots[index], Slot::Free)
            {
                let attempt = self.dial();
                self.dialed(index, client, attempt, since);
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
            Target::Imported { dir, name } => write!(f, "unix:{}", dir.join(name).display()),
            Target::Tcp(a) => write!(f, "tcp:{a}"),
            Target::Exec(argv) => write!(f, "exec {}", argv[0].to_string_lossy()),
        }
    }
}
