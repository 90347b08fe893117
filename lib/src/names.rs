//! Every name yodawg reads or writes on disk, in one place.
//!
//! Stable interface (other tools read or write these; never rename them):
//! the service dir files (`run`, `finish`, `down`, `log/`, `notification-fd`,
//! `timeout-finish`, `down-signal`, `nosetsid`) shared with runit and s6, and
//! runit's `supervise/{status,control,ok,lock,stat,pid}`, read and driven by
//! runit's `sv`, daemontools' `svc`/`svstat`/`svok` and s6's `s6-svc`.
//! `supervise/yd-status` is yodawg's own record (see [`crate::status`]).
//! A tenant's `services/`, `pipelines/`, `imports/` and the `socket` in a
//! service's or pipeline's dir are its users' interface too.

/// The program that runs the service.
pub const RUN: &str = "run";
/// Run after `run` dies, with its exit code and signal as arguments.
pub const FINISH: &str = "finish";
/// If present, the service is not started until told ("normally down").
pub const DOWN: &str = "down";
/// A service dir inside the service dir: its stdin is the service's stdout.
pub const LOG: &str = "log";
/// s6: the fd number on which `run` writes a newline once ready.
pub const NOTIFICATION_FD: &str = "notification-fd";
/// s6: milliseconds `finish` may run before it is killed (0: no limit).
pub const TIMEOUT_FINISH: &str = "timeout-finish";
/// s6: the signal `-d` sends instead of SIGTERM.
pub const DOWN_SIGNAL: &str = "down-signal";
/// s6: if present, `run` is not made a session leader.
pub const NOSETSID: &str = "nosetsid";

/// The supervisor's state dir inside a service dir (may be a symlink to a
/// writable place, as with runit).
pub const SUPERVISE: &str = "supervise";
/// FIFO: command letters from clients.
pub const CONTROL: &str = "control";
/// FIFO held open for reading by a live supervisor; clients open it for
/// writing to learn whether one is running.
pub const OK: &str = "ok";
/// flock()ed by the live supervisor: one supervisor per directory.
pub const LOCK: &str = "lock";
/// runit's 20-byte binary status.
pub const STATUS: &str = "status";
/// runit's human-readable state ("run", "down, want up"...).
pub const STAT: &str = "stat";
/// runit's pid file: the pid and a newline, or empty.
pub const PID: &str = "pid";
/// yodawg's status record: runit's 20 bytes plus readiness and last exit.
pub const YD_STATUS: &str = "yd-status";

/// The scanner's own state dir inside a scan dir (dot-entries are skipped).
pub const SVSCAN_DIR: &str = ".yd-svscan";

/// yd-log: the file being written.
pub const LOG_CURRENT: &str = "current";
/// yd-log: the lock held by the live logger.
pub const LOG_LOCK: &str = "lock";

/// A tenant's home (docs/services.md, docs/pipelines.md): its services and
/// pipelines, each a scan dir below `$HOME`...
pub const SERVICES: &str = "services";
pub const PIPELINES: &str = "pipelines";
/// ...the socket a service or pipeline answers on, inside its dir...
pub const SOCKET: &str = "socket";
/// ...and one dir per tenant that exported a pipeline to it (a link to
/// every tenant's exports).
pub const IMPORTS: &str = "imports";

/// Names of the supervisor's own program, found beside the scanner.
pub const SUPERVISE_PROGRAM: &str = "yd-supervise";
