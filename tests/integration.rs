//! yodawg's integration tests: real processes, signals, FIFOs, namespaces,
//! and the real peer tools (runit, daemontools, s6 from Debian).
//!
//! One test binary (so one link), one module per program. Every test works
//! under its own temp root, removed (and every process started there killed)
//! when the test ends, pass or fail. Tests that need root fail without it.

mod common;

mod compat;
mod config;
mod docker;
mod log;
mod pipe;
mod scan;
mod services;
mod supervise;
mod svc;
mod tenant;
