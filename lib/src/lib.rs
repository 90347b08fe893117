//! yodawg: the shared mechanisms of a daemontools-style supervision suite.
//!
//! The programs in `bins/` are thin: they parse their command line and call
//! one entry point here. What two programs share lives here once:
//!
//! * [`names`]: every on-disk name, and which of them are a stable interface.
//! * [`tai64n`], [`status`], [`control`]: runit's status format and the
//!   command letters of runit, daemontools and s6.
//! * [`servicedir`]: a service directory's files, parsed once at the edge.
//! * [`config`], [`envdir`]: one file per key, layered; `yd-envdir`.
//! * [`tenant`]: users, overlay homes, namespaces: `yd-mkhome`, `yd-nsenter`.
//! * [`sys`]: the only place with `unsafe` and raw process/fd syscalls.
//! * [`client`]: what every client of a supervisor shares.
//! * [`pipe`]: `yd-pipe`, unix-socket servers and bridges.
//! * [`supervise`], [`scan`], [`svc`], [`svstat`], [`logger`]: the engines
//!   behind `yd-supervise`, `yd-svscan`, `yd-svc`, `yd-svstat`/`yd-svok`, `yd-log`.

pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod envdir;
pub mod logger;
pub mod names;
pub mod pipe;
pub mod scan;
pub mod servicedir;
pub mod statefile;
pub mod status;
pub mod supervise;
pub mod svc;
pub mod svstat;
pub mod sys;
pub mod tai64n;
pub mod tenant;
