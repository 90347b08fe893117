//! Helpers shared by the integration tests: a sandbox per test, the built
//! binaries, and waiting on real state with deadlines.

#![allow(dead_code)] // each helper is used by some, not all, test modules

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use yodawg::status::{RunState, Status};

/// Path of one of the built programs.
pub fn bin(name: &str) -> PathBuf {
    PathBuf::from(match name {
        "yd-supervise" => env!("CARGO_BIN_EXE_yd-supervise"),
        "yd-svscan" => env!("CARGO_BIN_EXE_yd-svscan"),
        "yd-svc" => env!("CARGO_BIN_EXE_yd-svc"),
        "yd-svstat" => env!("CARGO_BIN_EXE_yd-svstat"),
        "yd-svok" => env!("CARGO_BIN_EXE_yd-svok"),
        "yd-log" => env!("CARGO_BIN_EXE_yd-log"),
        "yd-envdir" => env!("CARGO_BIN_EXE_yd-envdir"),
        "yd-mkhome" => env!("CARGO_BIN_EXE_yd-mkhome"),
        "yd-nsenter" => env!("CARGO_BIN_EXE_yd-nsenter"),
        "yd-pipe" => env!("CARGO_BIN_EXE_yd-pipe"),
        other => panic!("no program {other}"),
    })
}

/// A peer tool (runit, daemontools, s6): its absence fails the test.
pub fn peer(name: &str) -> PathBuf {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} is missing: install Debian's runit, daemontools and s6 (make deps)"
    );
    path
}

pub fn require_root() {
    assert!(nix::unistd::geteuid().is_root(), "this test needs root");
}

/// A temp root for one test, and the processes it started.
pub struct Sandbox {
    pub root: PathBuf,
    children: Vec<Child>,
}

impl Sandbox {
    pub fn new(name: &str) -> Sandbox {
        let root = std::env::temp_dir().join(format!("yd-it-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        Sandbox {
            root,
            children: Vec::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Write `rel` (making its parents) with `mode`.
    pub fn file(&self, rel: &str, content: &str, mode: u32) -> PathBuf {
        let p = self.root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// A service dir `rel` whose `run` is the given sh script body.
    pub fn service(&self, rel: &str, run: &str) -> PathBuf {
        self.file(&format!("{rel}/run"), &format!("#!/bin/sh\n{run}\n"), 0o755);
        self.root.join(rel)
    }

    pub fn spawn(&mut self, cmd: &mut Command) -> u32 {
        let child = cmd.stdin(Stdio::null()).spawn().expect("spawn");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Start `yd-supervise DIR` and wait until it answers.
    pub fn supervise(&mut self, dir: &Path) -> u32 {
        let pid = self.spawn(Command::new(bin("yd-supervise")).arg(dir));
        wait_for("supervisor to answer", Duration::from_secs(5), || {
            supervised(dir)
        });
        pid
    }

    /// Wait for a child this sandbox started; its exit code.
    pub fn wait_exit(&mut self, pid: u32, timeout: Duration) -> Option<i32> {
        let i = self
            .children
            .iter()
            .position(|c| c.id() == pid)
            .expect("not our child");
        let deadline = Instant::now() + timeout;
        loop {
            if self.children[i].try_wait().unwrap().is_some() {
                let mut child = self.children.remove(i);
                return child.wait().unwrap().code();
            }
            assert!(
                Instant::now() < deadline,
                "pid {pid} did not exit in {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // Ask nicely (supervisors take their services down), then kill
        // whatever still runs from inside the sandbox.
        for c in &self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            while c.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        kill_processes_under(&self.root);
        if std::env::var_os("YD_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// SIGKILL every process whose cwd is under `root`.
pub fn kill_processes_under(root: &Path) {
    for _ in 0..3 {
        let mut found = false;
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) {
                if cwd.starts_with(root) {
                    found = true;
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::SIGKILL,
                    );
                }
            }
        }
        if !found {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait until `cond` holds, checking every 2 ms; fail the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

pub fn supervised(dir: &Path) -> bool {
    yodawg::client::check_supervised(dir).is_ok()
}

pub fn status(dir: &Path) -> Status {
    yodawg::client::read_status(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

pub fn try_status(dir: &Path) -> Option<Status> {
    yodawg::client::read_status(dir).ok()
}

pub fn is_up(dir: &Path) -> bool {
    try_status(dir).is_some_and(|s| s.state == RunState::Run)
}

pub fn is_down(dir: &Path) -> bool {
    try_status(dir).is_some_and(|s| s.state == RunState::Down)
}

/// Wait until `dir` is up with a pid other than `old`; the new pid.
pub fn wait_new_pid(dir: &Path, old: u32, timeout: Duration) -> u32 {
    wait_for(
        &format!("{} to run a new pid", dir.display()),
        timeout,
        || try_status(dir).is_some_and(|s| s.state == RunState::Run && s.pid != old && s.pid != 0),
    );
    status(dir).pid
}

/// Run a command to completion; (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.stdin(Stdio::null()).output().expect("run");
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into(),
        String::from_utf8_lossy(&stderr).into(),
    )
}

/// `yd-svc ARGS DIR`, asserting success.
pub fn svc(args: &str, dir: &Path) {
    let (code, _, err) = run(Command::new(bin("yd-svc"))
        .args(args.split_whitespace())
        .arg(dir));
    assert_eq!(code, 0, "yd-svc {args} {}: {err}", dir.display());
}

/// A file's text, or "" if it does not exist yet.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

pub fn lines(path: &Path) -> Vec<String> {
    read(path).lines().map(String::from).collect()
}

/// The state letter of a process in /proc (R, S, T, Z...).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// Pids whose parent is `ppid`.
pub fn children_of(ppid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if fields.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(ppid) {
            out.push(pid);
        }
    }
    out
}

/// The command line of `pid`, arguments joined by spaces.
pub fn cmdline(pid: u32) -> String {
    read(Path::new(&format!("/proc/{pid}/cmdline")))
        .replace('\0', " ")
        .trim_end()
        .to_string()
}

pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).unwrap();
}

/// How many processes have their cwd under `root`.
pub fn processes_under(root: &Path) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|e| std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c.starts_with(root)))
        .count()
}

/// Host pids of the processes named `comm` running as `uid`.
pub fn pids_named(comm: &str, uid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|p| read(Path::new(&format!("/proc/{p}/comm"))).trim() == comm)
        .filter(|p| {
            read(Path::new(&format!("/proc/{p}/status")))
                .lines()
                .any(|l| {
                    l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some(&uid.to_string())
                })
        })
        .collect()
}
