//! One bridged connection: bytes both ways between two sockets, through a
//! pipe per direction with splice(2), so they never enter user space.
//!
//! The fds are non-blocking and the event loop is edge-triggered: `pump`
//! moves what it can until nothing moves, and must be called again on any
//! event of either socket. Memory is bounded per connection by the two
//! pipes (at most [`GROWN_PIPE`] each) and the sockets' own buffers: when a
//! reader is slow its pipe fills, we stop reading the writer, and its
//! socket buffer fills in turn, which blocks the writer (backpressure).

use crate::sys::net;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What a pipe holds by default (pipe(7)).
const DEFAULT_PIPE: usize = 64 * 1024;
/// A direction that fills its pipe is a bulk transfer: grow the pipe to
/// this, so each splice moves more (pipe-max-size's default). Connections
/// that never fill one keep the default and cost less of the user's pipe
/// budget (pipe(7): pipe-user-pages-soft).
pub const GROWN_PIPE: usize = 1024 * 1024;

/// One direction: `src` → pipe → `dst`.
struct Flow {
    pipe_r: OwnedFd,
    pipe_w: OwnedFd,
    /// Bytes in the pipe.
    buffered: usize,
    /// Not yet asked to grow (asked once: refused means the user's pipe
    /// budget is spent, pipe(7), and the pipe works at its size anyway).
    may_grow: bool,
    /// `src` said end of file (or vanished).
    eof: bool,
    /// Nothing more will move this way, and `dst` was told (shutdown).
    done: bool,
}

impl Flow {
    fn new() -> io::Result<Flow> {
        let (pipe_r, pipe_w) = net::pipe()?;
        Ok(Flow {
            pipe_r,
            pipe_w,
            buffered: 0,
            may_grow: true,
            eof: false,
            done: false,
        })
    }

    /// Move what can move now. An error is one neither peer's leaving
    /// explains: the whole connection is dropped.
    fn pump(&mut self, src: RawFd, dst: RawFd) -> io::Result<()> {
        while !self.done {
            let mut moved = false;
            if !self.eof {
                match net::splice(src, self.pipe_w.as_raw_fd(), GROWN_PIPE) {
                    Ok(Some(0)) => self.eof = true,
                    Ok(Some(n)) => {
                        self.buffered += n;
                        moved = true;
                        // One read filled a default pipe: a bulk transfer.
                        if self.may_grow && self.buffered >= DEFAULT_PIPE {
                            self.may_grow = false;
                            let _ = net::resize_pipe(&self.pipe_w, GROWN_PIPE);
                        }
                    }
                    Ok(None) => {}
                    // The writer vanished: whatever it sent is all there is.
                    Err(e) if peer_gone(&e) => self.eof = true,
                    Err(e) => return Err(e),
                }
            }
            if self.buffered > 0 {
                match net::splice(self.pipe_r.as_raw_fd(), dst, self.buffered) {
                    Ok(Some(n)) => {
                        self.buffered -= n;
                        moved |= n > 0;
                    }
                    Ok(None) => {}
                    // The reader vanished: nothing more can reach it, so stop
                    // reading its writer too (which then sees EPIPE).
                    Err(e) if peer_gone(&e) => {
                        net::shutdown(src, false);
                        self.done = true;
                        return Ok(());
                    }
                    Err(e) => return Err(e),
                }
            }
            if self.eof && self.buffered == 0 {
                // Half-close: pass the end of file on; the other direction
                // goes on until its own end.
                net::shutdown(dst, true);
                self.done = true;
            } else if !moved {
                break;
            }
        }
        Ok(())
    }
}

fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPIPE) | Some(libc::ECONNRESET) | Some(libc::ENOTCONN)
    )
}

/// A client connection and the target it is bridged to.
pub struct Bridge {
    pub client: OwnedFd,
    pub target: OwnedFd,
    up: Flow,
    down: Flow,
}

impl Bridge {
    pub fn new(client: OwnedFd, target: OwnedFd) -> io::Result<Bridge> {
        Ok(Bridge {
            client,
            target,
            up: Flow::new()?,
            down: Flow::new()?,
        })
    }

    /// Move what can move both ways; `Ok(true)` once both are finished.
    pub fn pump(&mut self) -> io::Result<bool> {
        let (c, t) = (self.client.as_raw_fd(), self.target.as_raw_fd());
        self.up.pump(c, t)?;
        self.down.pump(t, c)?;
        Ok(self.up.done && self.down.done)
    }
}
