//! yd-log: every line once, rotation, a full disk, signals.

use crate::common::*;
use nix::sys::signal::Signal;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// Lines of a log dir, oldest first, without their stamps.
fn logged(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    files.retain(|p| p.file_name().unwrap().to_string_lossy().starts_with('@'));
    files.sort();
    files.push(dir.join("current"));
    files
        .iter()
        .flat_map(|f| lines(f))
        .map(|l| {
            let (stamp, text) = l.split_once(' ').expect("stamped line");
            assert!(
                stamp.len() == 25 && stamp.starts_with("@4000"),
                "bad stamp {stamp}"
            );
            text.to_string()
        })
        .collect()
}

fn feed(cmd: &mut Command, input: &[u8]) -> (i32, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn rotation_keeps_every_line_and_n_files() {
    let sb = Sandbox::new("logrotate");
    let input: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
    let all = sb.path("all");
    let (code, err) = feed(
        Command::new(bin("yd-log"))
            .args(["-s", "40000", "-n", "1000"])
            .arg(&all),
        input.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    let got = logged(&all);
    assert_eq!(got.len(), 50_000);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("line {i}")));
    for f in std::fs::read_dir(&all).unwrap().flatten() {
        assert!(
            f.metadata().unwrap().len() <= 40_000,
            "{:?} passed the size limit",
            f.path()
        );
    }
    let few = sb.path("few");
    feed(
        Command::new(bin("yd-log"))
            .args(["-s", "40000", "-n", "3"])
            .arg(&few),
        input.as_bytes(),
    );
    let rotated = std::fs::read_dir(&few)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".s"))
        .count();
    assert_eq!(rotated, 3);
    assert_eq!(
        logged(&few).last().unwrap(),
        "line 49999",
        "the newest lines are kept"
    );
}

#[test]
fn a_full_disk_blocks_the_logger_and_loses_nothing() {
    require_root();
    let sb = Sandbox::new("logfull");
    let mnt = sb.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let (code, _, err) = run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "yd-test"])
        .arg(&mnt));
    assert_eq!(code, 0, "mount: {err}");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&mnt);
    // Fill the disk to its last few KiB.
    let filler = mnt.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 256 * 1024]);
    std::fs::write(mnt.join("filler2"), vec![0u8; 0]).ok();
    let mut logger = Command::new(bin("yd-log"));
    logger
        .arg(mnt.join("log"))
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    std::fs::remove_file(&filler).unwrap();
    std::fs::write(&filler, vec![0u8; 200 * 1024]).unwrap();
    let mut child = logger.spawn().unwrap();
    let pid = child.id();
    let input: String = (0..2000)
        .map(|i| format!("a line to fill the disk {i:05}\n"))
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    // The logger is stuck on the full disk, alive, not exiting.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        proc_state(pid).is_some_and(|s| s != 'Z'),
        "the logger waits instead of dying"
    );
    assert!(
        logged(&mnt.join("log")).len() < 2000,
        "the disk really was full"
    );
    std::fs::remove_file(&filler).unwrap();
    writer.join().unwrap().unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No space left"),
        "it said why it waited"
    );
    let got = logged(&mnt.join("log"));
    assert_eq!(got.len(), 2000);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, l)| *l == format!("a line to fill the disk {i:05}")));
}

#[test]
fn sigterm_finishes_the_line_in_progress_and_sigalrm_rotates() {
    let sb = Sandbox::new("logsignals");
    let dir = sb.path("log");
    let mut child = Command::new(bin("yd-log"))
        .arg(&dir)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first\n").unwrap();
    wait_for("first line", 5 * S, || logged(&dir) == ["first"]);
    signal(pid, Signal::SIGALRM);
    wait_for("rotation", 5 * S, || {
        lines(&dir.join("current")).is_empty() && logged(&dir) == ["first"]
    });
    stdin.write_all(b"half a ").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    signal(pid, Signal::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        child.try_wait().unwrap().is_none(),
        "it waits for the end of the line"
    );
    stdin.write_all(b"line\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(logged(&dir), ["first", "half a line"]);

    let (code, err) = feed(
        Command::new(bin("yd-log")).args(["-s", "10"]).arg(&dir),
        b"",
    );
    assert_eq!(code, 100, "{err}");
    let (code, err) = feed(Command::new(bin("yd-log")).args(["-n", "x"]).arg(&dir), b"");
    assert_eq!(code, 100, "{err}");
}
