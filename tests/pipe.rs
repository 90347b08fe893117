//! yd-pipe: real sockets, real peers (socat, a TCP listener, programs per
//! connection), under yd-supervise as a pipeline runs in a tenant.

use crate::common::*;
use crate::tenant::{home_of, uid_of, Host};
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// A pipeline dir `pipelines/NAME` under the sandbox, whose HOME is the
/// sandbox, running `yd-pipe ARGS`, supervised; its socket once it listens.
fn pipeline(sb: &mut Sandbox, name: &str, args: &str) -> (PathBuf, PathBuf) {
    let dir = sb.service(
        &format!("pipelines/{name}"),
        &format!(
            "HOME={home} exec {pipe} {args}",
            home = sb.root.display(),
            pipe = bin("yd-pipe").display()
        ),
    );
    sb.supervise(&dir);
    let socket = dir.join("socket");
    wait_for("the pipeline to listen", 5 * S, || {
        UnixStream::connect(&socket).is_ok()
    });
    (dir, socket)
}

/// Send `request`, close our write side, read the whole reply.
fn exchange(socket: &Path, request: &[u8]) -> Vec<u8> {
    let mut c = UnixStream::connect(socket).unwrap();
    c.set_read_timeout(Some(10 * S)).unwrap();
    c.write_all(request).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    reply
}

/// The connection is closed on us with nothing said (a reset, if the
/// pipeline had not read what we sent).
fn assert_refused(socket: &Path) {
    let mut c = UnixStream::connect(socket).unwrap();
    c.set_read_timeout(Some(10 * S)).unwrap();
    let _ = c.write_all(b"anyone?");
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => assert!(got.is_empty(), "got {got:?}"),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
}

/// Serve every connection of `listener` on its own thread with `serve`.
fn serve_unix(listener: UnixListener, serve: fn(UnixStream)) {
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || serve(c));
        }
    });
}

/// Read everything, then answer with its length and 1 MiB after it: a
/// reply that only comes after the client's end of file.
fn answer_after_eof(mut c: UnixStream) {
    let mut got = Vec::new();
    c.read_to_end(&mut got).unwrap();
    let _ = c.write_all(format!("{}\n", got.len()).as_bytes());
    let _ = c.write_all(&vec![b'z'; 1 << 20]);
}

/// A 64-bit checksum of a stream, word by word (fast enough unoptimised).
#[derive(Default, PartialEq, Debug, Clone, Copy)]
struct Sum {
    hash: u64,
    len: u64,
}

impl Sum {
    fn add(&mut self, bytes: &[u8]) {
        // Streams are cut in 8-byte multiples on the sending side; the
        // receiver may see any split, so it buffers (see `SumReader`).
        for w in bytes.chunks_exact(8) {
            let w = u64::from_le_bytes(w.try_into().unwrap());
            self.hash = (self.hash.rotate_left(5) ^ w).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        self.len += bytes.len() as u64;
    }
}

/// Read a stream to its end and checksum it, whatever its reads' sizes.
fn sum_of(mut r: impl Read) -> Sum {
    let mut sum = Sum::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut held = 0;
    loop {
        let n = r.read(&mut buf[held..]).unwrap();
        if n == 0 {
            break;
        }
        held += n;
        let whole = held / 8 * 8;
        sum.add(&buf[..whole]);
        buf.copy_within(whole..held, 0);
        held -= whole;
    }
    assert_eq!(held, 0, "the stream is 8-byte words");
    sum
}

#[test]
fn bridges_to_a_service_socket_and_is_back_after_kill_9() {
    let mut sb = Sandbox::new("pipesvc");
    // The service: socat (the peer) serving its socket with tr.
    let service = sb.service(
        "services/upper",
        "exec socat UNIX-LISTEN:socket,fork SYSTEM:'tr a-z A-Z'",
    );
    sb.supervise(&service);
    // Until the service listens, a connection through the pipeline fails
    // (bridges_to_tcp_and_a_missing_target_fails_only_that_connection).
    wait_for("the service to listen", 5 * S, || {
        UnixStream::connect(service.join("socket")).is_ok()
    });
    let (dir, socket) = pipeline(&mut sb, "upper", "socket service:upper");
    assert_eq!(exchange(&socket, b"hello pipe"), b"HELLO PIPE");

    let old = status(&dir).pid;
    signal(old, Signal::SIGKILL);
    wait_new_pid(&dir, old, 5 * S);
    wait_for("the pipeline to listen again", 5 * S, || {
        UnixStream::connect(&socket).is_ok()
    });
    assert_eq!(exchange(&socket, b"again"), b"AGAIN");
}

#[test]
fn half_close_the_reply_comes_after_the_clients_end_of_file() {
    let mut sb = Sandbox::new("pipehalf");
    let target = sb.path("target");
    serve_unix(UnixListener::bind(&target).unwrap(), answer_after_eof);
    let (_, socket) = pipeline(
        &mut sb,
        "half",
        &format!("socket unix:{}", target.display()),
    );
    let reply = exchange(&socket, &[b'a'; 300_000]);
    assert_eq!(&reply[..7], b"300000\n");
    assert_eq!(
        reply.len(),
        7 + (1 << 20),
        "the whole reply after our shutdown"
    );
}

#[test]
fn bridges_to_tcp_and_a_missing_target_fails_only_that_connection() {
    let mut sb = Sandbox::new("pipetcp");
    // A port nobody listens on, for now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (dir, socket) = pipeline(&mut sb, "tcp", &format!("socket tcp:127.0.0.1:{port}"));
    let pid = status(&dir).pid;
    for _ in 0..5 {
        assert_refused(&socket);
    }
    std::thread::sleep(S / 2);
    assert_eq!(status(&dir).pid, pid, "the pipeline did not die");
    assert!(is_up(&dir));

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut got = Vec::new();
            c.read_to_end(&mut got).unwrap();
            got.reverse();
            c.write_all(&got).unwrap();
        }
    });
    assert_eq!(exchange(&socket, b"stressed"), b"desserts");
}

/// The far end of a checksum test: it sums what it got and says so after
/// our end of file.
fn answer_with_sum(mut c: impl Read + Write) {
    let sum = sum_of(&mut c);
    let _ = c.write_all(format!("{} {}\n", sum.len, sum.hash).as_bytes());
}

/// Send `mib` MiB of random words through `socket`; the far end's sum must
/// be ours.
fn send_and_compare_sums(socket: &Path, mib: usize) {
    let mut c = UnixStream::connect(socket).unwrap();
    let mut sent = Sum::default();
    let mut block = vec![0u8; 1 << 20];
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..mib {
        for w in block.chunks_exact_mut(8) {
            // xorshift: data no layer could compress or fake.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        sent.add(&block);
        c.write_all(&block).unwrap();
    }
    c.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    c.set_read_timeout(Some(60 * S)).unwrap();
    c.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, format!("{} {}\n", (mib as u64) << 20, sent.hash));
}

#[test]
fn a_gib_through_a_bridge_arrives_whole() {
    let mut sb = Sandbox::new("pipegib");
    let target = sb.path("sink");
    serve_unix(UnixListener::bind(&target).unwrap(), answer_with_sum);
    let (_, socket) = pipeline(&mut sb, "gib", &format!("socket unix:{}", target.display()));
    send_and_compare_sums(&socket, 1024);
}

#[test]
fn into_tcp_the_copied_path_arrives_whole_too() {
    // Data bound for TCP goes through a buffer, not a pipe (bridge.rs).
    let mut sb = Sandbox::new("pipetcpsum");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in listener.incoming().flatten() {
            std::thread::spawn(move || answer_with_sum(c));
        }
    });
    let (_, socket) = pipeline(&mut sb, "tcpsum", &format!("socket tcp:127.0.0.1:{port}"));
    send_and_compare_sums(&socket, 256);
}

#[test]
fn two_hundred_concurrent_connections_each_get_their_own_reply() {
    const N: usize = 200;
    const REPLY: usize = 64 * 1024;
    let mut sb = Sandbox::new("pipemany");
    let target = sb.path("target");
    // Each connection says who it is; the reply is made from that alone.
    serve_unix(UnixListener::bind(&target).unwrap(), |mut c| {
        let mut id = [0u8; 4];
        c.read_exact(&mut id).unwrap();
        let n = u32::from_le_bytes(id);
        let _ = c.write_all(&reply_for(n, REPLY));
    });
    let (_, socket) = pipeline(
        &mut sb,
        "many",
        &format!("socket unix:{}", target.display()),
    );
    // All open at once before any speaks.
    let mut conns: Vec<UnixStream> = (0..N)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(&(i as u32).to_le_bytes()).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        c.set_read_timeout(Some(30 * S)).unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert!(
            got == reply_for(i as u32, REPLY),
            "connection {i}: a wrong reply ({} bytes)",
            got.len()
        );
    }
}

fn reply_for(n: u32, len: usize) -> Vec<u8> {
    (0..len).map(|i| (n as usize * 7 + i / 251) as u8).collect()
}

#[test]
fn exec_serves_each_connection_with_the_peers_credentials() {
    let mut sb = Sandbox::new("pipeexec");
    let (_, socket) = pipeline(
        &mut sb,
        "who",
        "socket exec sh -c 'read line; echo \"$line uid=$YD_PEER_UID ipc=$IPCREMOTEEUID proto=$PROTO pid=$YD_PEER_PID\"'",
    );
    let mine = String::from_utf8(exchange(&socket, b"one\n")).unwrap();
    assert!(mine.starts_with("one uid=0 ipc=0 proto=IPC pid="), "{mine}");
    // Another user: the socket is the owner's only, so open it up here.
    std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let (code, out, err) = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["sh", "-c"])
        .arg(format!(
            "echo two | socat - UNIX-CONNECT:{}",
            socket.display()
        )));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("two uid=65534 ipc=65534 proto=IPC pid="),
        "{out}"
    );
}

#[test]
fn a_pipelines_socket_is_its_owners_only() {
    let mut sb = Sandbox::new("pipemode");
    let (_, socket) = pipeline(&mut sb, "private", "socket exec echo hi");
    let mode = std::fs::metadata(&socket).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    let (code, _, err) = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg("socat")
        .arg("-")
        .arg(format!("UNIX-CONNECT:{}", socket.display())));
    assert_ne!(code, 0);
    assert!(err.contains("Permission denied"), "{err}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let sb = Sandbox::new("pipebad");
    let s = sb.path("s");
    let yd_pipe = |args: &[&str]| {
        run(Command::new(bin("yd-pipe"))
            .env("HOME", &sb.root)
            .env_remove("YD_EXPORTS")
            .args(args))
    };
    let s = s.to_str().unwrap();
    for (args, says) in [
        (vec![s, "ftp:x"], "unknown target"),
        (vec![s, "tcp:example.org:80"], "tcp:IP:PORT"),
        (vec![s, "pipeline:../etc"], "pipeline name"),
        (vec![s, "service:a/b"], "service name"),
        (vec![s, "import:x/.."], "pipeline name"),
        (vec![s, "exec"], "no program"),
        (vec![s], "usage"),
        (vec!["-x", "exports", s, "exec", "true"], "YD_EXPORTS"),
    ] {
        let (code, out, err) = yd_pipe(&args);
        assert_eq!(code, 100, "{args:?}: {out}{err}");
        assert!(
            err.starts_with("yd-pipe: fatal: ") && err.contains(says) && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
    // Something that is not a socket is never replaced.
    std::fs::write(s, "precious").unwrap();
    let (code, _, err) = yd_pipe(&[s, "exec", "true"]);
    assert_eq!(code, 111, "{err}");
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(read(Path::new(s)), "precious");

    // A user's pipeline listens inside its home only.
    let home = sb.path("home");
    std::fs::create_dir(&home).unwrap();
    nix::unistd::chown(&home, Some(65534.into()), Some(65534.into())).unwrap();
    let (code, _, err) = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .env("HOME", &home)
        .arg(bin("yd-pipe"))
        .args(["/tmp/yd-pipe-outside", "exec", "true"]));
    assert_eq!(code, 100, "{err}");
    assert!(err.contains("outside the tenant's home"), "{err}");
    assert!(!Path::new("/tmp/yd-pipe-outside").exists());
}

/// Write a pipeline dir in a tenant's home, as the tenant (run last, by
/// rename, so the sub-scanner never sees a half-written one).
fn tenant_pipeline(host: &Host, tenant: &str, name: &str, run: &str, consumers: &[&str]) {
    let script = format!(
        "set -e; d=~/pipelines/{name}; mkdir -p $d/exports; cd $d; \
         for c in {consumers}; do touch exports/$c; done; \
         printf '#!/bin/sh\\nexec %s\\n' '{run}' > .run; chmod +x .run; mv .run run",
        consumers = consumers.join(" ")
    );
    let (code, out, err) = host.join(tenant, &script);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_export_reaches_the_named_tenant_only() {
    let mut host = Host::new("pipeexport");
    let (a, b, c) = (host.name('e'), host.name('f'), host.name('g'));
    host.run_tenants(&[&a, &b, &c]);
    // a serves "hello UID" and exports it to b only.
    tenant_pipeline(
        &host,
        &a,
        "hello",
        "yd-pipe -x exports socket exec sh -c \"echo hello \\$YD_PEER_UID\"",
        &[&b],
    );
    let ask = |t: &str, path: &str| {
        let (_, out, _) = host.join(t, &format!("socat -t 5 - UNIX-CONNECT:{path} </dev/null"));
        out
    };
    let imported = format!("$HOME/imports/{a}/hello");
    let uid_b = uid_of(&b).unwrap();
    wait_for("b to reach a's export", 10 * S, || {
        ask(&b, &imported) == format!("hello {uid_b}\n")
    });
    // The third tenant finds the socket too (knowing its name: the dirs
    // are not listable), and is turned away.
    let (_, out, _) = host.join(&c, &format!("test -S {imported} && echo there"));
    assert_eq!(out, "there\n");
    for dir in ["$HOME/imports/", &format!("$HOME/imports/{a}/")] {
        let (code, _, _) = host.join(&c, &format!("ls {dir}"));
        assert_ne!(code, 0, "{dir} is not listable");
    }
    assert_eq!(ask(&c, &imported), "", "c is no consumer");
    assert_eq!(
        ask(
            &c,
            &format!("{}/pipelines/hello/socket", home_of(&a).display())
        ),
        ""
    );

    // b bridges to it by name: the bridge runs as b, so it is b who asks.
    tenant_pipeline(
        &host,
        &b,
        "froma",
        &format!("yd-pipe socket import:{a}/hello"),
        &[],
    );
    wait_for("b's bridge to a", 10 * S, || {
        ask(&b, "$HOME/pipelines/froma/socket") == format!("hello {uid_b}\n")
    });

    // The host sees every export at $ROOT/exports; root is a consumer only
    // when named, and the list is read at each connection.
    let on_host = host.root.join("exports").join(&a).join("hello");
    let from_host = || exchange(&on_host, b"");
    assert_eq!(from_host(), b"", "the host is no consumer yet");
    let (code, _, err) = host.join(&a, "touch ~/pipelines/hello/exports/host");
    assert_eq!(code, 0, "{err}");
    assert_eq!(from_host(), b"hello 0\n");

    // The host bridges to it by name too (YD_IMPORTS = ROOT/exports), and
    // never through a link the tenant planted there.
    let (code, _, err) = host.join(&a, "ln -s hello $YD_EXPORTS/alias");
    assert_eq!(code, 0, "{err}");
    let mut sb = Sandbox::new("pipehostimport");
    let bridge = |sb: &mut Sandbox, name: &str| {
        let socket = sb.path(name);
        sb.spawn(
            Command::new(bin("yd-pipe"))
                .env("YD_IMPORTS", host.root.join("exports"))
                .arg(&socket)
                .arg(format!("import:{a}/{name}")),
        );
        wait_for("the host's bridge", 5 * S, || {
            UnixStream::connect(&socket).is_ok()
        });
        socket
    };
    let direct = bridge(&mut sb, "hello");
    assert_eq!(exchange(&direct, b""), b"hello 0\n");
    let via_link = bridge(&mut sb, "alias");
    assert_eq!(
        exchange(&via_link, b""),
        b"",
        "a link in the exports is not followed"
    );

    let (code, _, err) = host.join(&a, &format!("rm ~/pipelines/hello/exports/{b}"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(ask(&b, &imported), "", "b's export was taken back");
}

#[test]
fn at_most_c_programs_at_once_the_next_connection_waits_its_turn() {
    let mut sb = Sandbox::new("pipelimit");
    let (_, socket) = pipeline(
        &mut sb,
        "two",
        "-c 2 socket exec sh -c 'read line; echo \"$line\"'",
    );
    let open = || {
        let c = UnixStream::connect(&socket).unwrap();
        c.set_read_timeout(Some(S / 2)).unwrap();
        c
    };
    let (mut first, _second, mut third) = (open(), open(), open());
    third.write_all(b"third\n").unwrap();
    let mut got = [0u8; 16];
    let waited = third.read(&mut got);
    assert!(
        waited.is_err(),
        "two programs at most: the third waits ({waited:?})"
    );
    first.write_all(b"first\n").unwrap();
    let mut reply = String::new();
    first.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "first\n");
    // The first one ended: the third is served now.
    third.set_read_timeout(Some(10 * S)).unwrap();
    let mut reply = String::new();
    third.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "third\n");
}

#[test]
fn as_pid_1_it_reaps_orphans_without_counting_them() {
    // In a container yd-pipe is PID 1: its programs' orphans become its
    // children too, and must not be taken for connections ending.
    let mut sb = Sandbox::new("pipepid1");
    let socket = sb.path("socket");
    sb.spawn(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child"])
            .arg(bin("yd-pipe"))
            .arg(&socket)
            .args(["exec", "sh", "-c", "sleep 0.1 & echo orphaned"]),
    );
    wait_for("it listens", 5 * S, || UnixStream::connect(&socket).is_ok());
    for _ in 0..5 {
        assert_eq!(exchange(&socket, b""), b"orphaned\n");
        std::thread::sleep(S / 4);
    }
}

#[test]
fn peers_vanishing_mid_stream_end_only_their_connection() {
    let mut sb = Sandbox::new("pipevanish");
    let target = sb.path("target");
    // The target reads a line: "quit" makes it vanish at once, anything
    // else gets 8 MiB back.
    serve_unix(UnixListener::bind(&target).unwrap(), |mut c| {
        let mut line = [0u8; 5];
        if c.read_exact(&mut line).is_ok() && &line != b"quit\n" {
            let _ = c.write_all(&vec![b'x'; 8 << 20]);
        }
    });
    let (dir, socket) = pipeline(
        &mut sb,
        "vanish",
        &format!("socket unix:{}", target.display()),
    );
    let pid = status(&dir).pid;

    // The target goes away while we still send.
    let mut c = UnixStream::connect(&socket).unwrap();
    c.write_all(b"quit\n").unwrap();
    let big = vec![b'y'; 1 << 20];
    let sent = (0..64).try_for_each(|_| c.write_all(&big));
    assert!(sent.is_err(), "the writer learns its reader is gone");

    // The client goes away while the target still sends.
    for _ in 0..3 {
        let mut c = UnixStream::connect(&socket).unwrap();
        c.write_all(b"give\n").unwrap();
        let mut some = [0u8; 4096];
        c.read_exact(&mut some).unwrap();
        drop(c);
    }
    assert_eq!(status(&dir).pid, pid, "the pipeline itself never stopped");
    let reply = exchange(&socket, b"more\n");
    assert_eq!(reply.len(), 8 << 20);
}

/// Bytes in a unix socket's receive queue (FIONREAD).
fn bytes_queued(s: &UnixStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: nix::libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; the socket is open.
    let r = unsafe { nix::libc::ioctl(s.as_raw_fd(), nix::libc::FIONREAD, &mut n) };
    assert_eq!(r, 0, "FIONREAD: {}", std::io::Error::last_os_error());
    n as usize
}

#[test]
fn a_reader_that_stops_stops_its_writer_with_memory_bounded() {
    let mut sb = Sandbox::new("pipeback");
    let target = sb.path("target");
    let listener = UnixListener::bind(&target).unwrap();
    let (dir, socket) = pipeline(
        &mut sb,
        "back",
        &format!("socket unix:{}", target.display()),
    );
    // Leave out the connection `pipeline`'s probe made through the bridge.
    listener.set_nonblocking(true).unwrap();
    wait_for("the probe's connection", 5 * S, || {
        listener.accept().is_ok()
    });
    listener.set_nonblocking(false).unwrap();
    let mut c = UnixStream::connect(&socket).unwrap();
    // The target takes the connection but reads nothing yet.
    let (mut far, _) = listener.accept().unwrap();
    c.set_nonblocking(true).unwrap();
    let block = vec![b'z'; 64 << 10];
    let mut accepted = 0usize;
    let mut blocked_since = None;
    loop {
        match c.write(&block) {
            Ok(n) => {
                accepted += n;
                blocked_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let since = *blocked_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > S / 2 {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("{e}"),
        }
        assert!(accepted < 64 << 20, "the writer was never stopped");
    }
    // What it could write: the sockets' buffers and the pipe (1 MiB).
    assert!(accepted < 16 << 20, "{accepted} bytes taken in");
    // What waits for the stopped reader in its socket is well past what a
    // default send buffer lets through (1.1x to 1.25x it, measured): a bulk
    // direction asks its destination for a larger one.
    let default: usize = read(Path::new("/proc/sys/net/core/wmem_default"))
        .trim()
        .parse()
        .unwrap();
    let queued = bytes_queued(&far);
    assert!(
        queued > default * 3 / 2,
        "{queued} bytes queued for the reader"
    );
    let rss_kib: usize = read(
        &Path::new("/proc")
            .join(status(&dir).pid.to_string())
            .join("status"),
    )
    .lines()
    .find_map(|l| l.strip_prefix("VmRSS:"))
    .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
    .unwrap();
    assert!(rss_kib < 8 << 10, "yd-pipe holds {rss_kib} KiB");
    // The reader reads again: everything arrives.
    c.set_nonblocking(false).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = far.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got += n;
    }
    assert_eq!(got, accepted);
}
