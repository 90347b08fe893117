//! One bridged connection: bytes both ways between two sockets.
//!
//! Each direction goes through a pipe with splice(2), so its bytes never
//! enter user space, except data bound for a TCP socket: splicing unix
//! socket data into TCP hands TCP one 4 KiB page per fragment, and on this
//! kernel that costs TCP more than copying through a buffer costs us
//! (measured: bench/README.md, "Pipelines"). Data from TCP is spliced.
//!
//! The fds are non-blocking and the event loop is edge-triggered: `pump`
//! moves what it can until nothing moves, and must be called again on any
//! event of either socket. Memory is bounded per connection by the two
//! media (at most [`GROWN`] each) and the sockets' own buffers (a bulk
//! direction asks [`GROWN_SEND_BUFFER`] of its destination's): when a
//! reader is slow its medium fills, we stop reading the writer, and its
//! socket buffer fills in turn, which blocks the writer (backpressure).

use crate::sys::{self, net};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// What a medium holds at first (a pipe's default, pipe(7)).
const INITIAL: usize = 64 * 1024;
/// A direction that fills its medium is a bulk transfer: grow it to this,
/// so each call moves more (pipe-max-size's default). Connections that
/// never fill one keep the small size and cost less memory and less of the
/// user's pipe budget (pipe(7): pipe-user-pages-soft).
const GROWN: usize = 1024 * 1024;
/// A buffer grows less: past 256 KiB, copies into TCP got no faster here.
const GROWN_BUFFER: usize = 256 * 1024;
/// A bulk direction through a pipe also asks this of its destination's
/// send buffer, which bounds what a unix socket holds for its reader (the
/// default, net.core.wmem_default, is 208 KiB). With the kernel's doubling
/// that is 512 KiB: with bulk endpoints it moved up to 1.35x the bytes per
/// second of the default, with fewer switches between the processes;
/// larger sizes did less well, and TCP, which sizes its own buffers,
/// gained nothing (bench/README.md, "Pipelines").
const GROWN_SEND_BUFFER: usize = 256 * 1024;

/// Where a direction's bytes wait between the two sockets.
enum Medium {
    Pipe {
        read: OwnedFd,
        write: OwnedFd,
    },
    /// `buf[start..end]` waits to be written.
    Buffer {
        buf: Vec<u8>,
        start: usize,
        end: usize,
    },
}

impl Medium {
    /// Take in what `src` has, up to the medium's room; as for splice.
    fn fill(&mut self, src: RawFd) -> io::Result<Option<usize>> {
        match self {
            Medium::Pipe { write, .. } => net::splice(src, write.as_raw_fd(), GROWN),
            Medium::Buffer { buf, end, .. } => {
                if *end == buf.len() {
                    return Ok(None);
                }
                let got = sys::read_nonblocking(src, &mut buf[*end..])?;
                *end += got.unwrap_or(0);
                Ok(got)
            }
        }
    }

    /// Give `dst` up to `len` waiting bytes.
    fn drain(&mut self, dst: RawFd, len: usize) -> io::Result<Option<usize>> {
        match self {
            Medium::Pipe { read, .. } => net::splice(read.as_raw_fd(), dst, len),
            Medium::Buffer { buf, start, end } => {
                let sent = net::write_nonblocking(dst, &buf[*start..*end])?;
                *start += sent.unwrap_or(0);
                if start == end {
                    (*start, *end) = (0, 0);
                }
                Ok(sent)
            }
        }
    }

    /// Make room for a bulk transfer to `dst`; a refusal leaves the size as
    /// it is.
    fn grow(&mut self, dst: RawFd) {
        match self {
            Medium::Pipe { write, .. } => {
                // Refused past the user's pipe budget: the pipe works anyway.
                let _ = net::resize_pipe(write, GROWN);
                // A pipe's destination is a unix socket (data bound for TCP
                // goes through a buffer). The size is a wish the kernel
                // clamps; a socket we hold does not refuse it.
                let _ = net::ask_send_buffer(dst, GROWN_SEND_BUFFER);
            }
            Medium::Buffer { buf, .. } => buf.resize(GROWN_BUFFER, 0),
        }
    }
}

/// One direction: `src` → medium → `dst`.
struct Flow {
    medium: Medium,
    /// Bytes in the medium.
    buffered: usize,
    /// Not yet grown (a medium grows once).
    may_grow: bool,
    /// `src` said end of file (or vanished).
    eof: bool,
    /// Nothing more will move this way, and `dst` was told (shutdown).
    done: bool,
}

impl Flow {
    /// `copy`: through a user-space buffer rather than a pipe.
    fn new(copy: bool) -> io::Result<Flow> {
        let medium = if copy {
            Medium::Buffer {
                buf: vec![0; INITIAL],
                start: 0,
                end: 0,
            }
        } else {
            let (read, write) = net::nonblocking_pipe()?;
            Medium::Pipe { read, write }
        };
        Ok(Flow {
            medium,
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
                match self.medium.fill(src) {
                    Ok(Some(0)) => self.eof = true,
                    Ok(Some(n)) => {
                        self.buffered += n;
                        moved = true;
                        // One read filled the initial size: a bulk transfer.
                        if self.may_grow && self.buffered >= INITIAL {
                            self.may_grow = false;
                            self.medium.grow(dst);
                        }
                    }
                    Ok(None) => {}
                    // The writer vanished: whatever it sent is all there is.
                    Err(e) if peer_gone(&e) => self.eof = true,
                    Err(e) => return Err(e),
                }
            }
            if self.buffered > 0 {
                match self.medium.drain(dst, self.buffered) {
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
    /// `target_is_tcp`: what goes up to the target is copied, not spliced.
    pub fn new(client: OwnedFd, target: OwnedFd, target_is_tcp: bool) -> io::Result<Bridge> {
        Ok(Bridge {
            client,
            target,
            up: Flow::new(target_is_tcp)?,
            down: Flow::new(false)?,
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
