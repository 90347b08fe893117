//! yd-svscan: many dirs, dirs coming and going, dead supervisors, PID 1.

use crate::common::*;
use nix::sys::signal::Signal;
use std::process::Command;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

fn supervisor_of(scanner: u32, name: &str) -> Option<u32> {
    children_of(scanner)
        .into_iter()
        .find(|&p| cmdline(p) == format!("yd-supervise {name}"))
}

#[test]
fn five_hundred_service_dirs_all_supervised_then_all_down_on_sigterm() {
    let mut sb = Sandbox::new("scan500");
    let scan = sb.path("scan");
    for i in 0..500 {
        sb.service(&format!("scan/s{i:03}"), "exec sleep 1000");
    }
    let scanner = sb.spawn(Command::new(bin("yd-svscan")).arg(&scan));
    let dirs: Vec<_> = (0..500).map(|i| scan.join(format!("s{i:03}"))).collect();
    wait_for("500 services up", 60 * S, || dirs.iter().all(|d| is_up(d)));
    assert_eq!(children_of(scanner).len(), 500, "one supervisor per dir");
    signal(scanner, Signal::SIGTERM);
    assert_eq!(sb.wait_exit(scanner, 60 * S), Some(0));
    assert!(dirs.iter().all(|d| is_down(d)), "every service is down");
    assert_eq!(processes_under(&sb.root), 0, "nothing left running");
}

#[test]
fn dirs_added_and_removed_while_running() {
    let mut sb = Sandbox::new("scanchange");
    let scan = sb.path("scan");
    let a = sb.service("scan/a", "exec sleep 1000");
    sb.file("scan/.hidden/run", "#!/bin/sh\nexec sleep 1000\n", 0o755);
    sb.file("scan/notadir", "", 0o644);
    let scanner = sb.spawn(Command::new(bin("yd-svscan")).arg(&scan));
    wait_for("a up", 5 * S, || is_up(&a));

    // Made elsewhere and moved in whole: the recommended way.
    sb.service("staging/b", "exec sleep 1000");
    std::fs::rename(sb.path("staging/b"), scan.join("b")).unwrap();
    wait_for("b up", 5 * S, || is_up(&scan.join("b")));
    // Made in place, run written later, made executable last.
    std::fs::create_dir(scan.join("c")).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    sb.file("scan/c/run", "#!/bin/sh\nexec sleep 1000\n", 0o644);
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        !supervised(&scan.join("c")),
        "no supervisor before run is executable"
    );
    sb.file("scan/c/run", "#!/bin/sh\nexec sleep 1000\n", 0o755);
    wait_for("c up", 5 * S, || is_up(&scan.join("c")));
    // A symlink to a service dir elsewhere.
    let d = sb.service("elsewhere/d", "exec sleep 1000");
    std::os::unix::fs::symlink(&d, scan.join("d")).unwrap();
    wait_for("d up", 5 * S, || is_up(&d));

    let a_pid = status(&a).pid;
    std::fs::rename(&a, sb.path("removed-a")).unwrap();
    let a = sb.path("removed-a");
    wait_for("a's supervisor gone", 5 * S, || !supervised(&a));
    assert!(is_down(&a), "a removed dir's service is taken down");
    assert!(!std::path::Path::new(&format!("/proc/{a_pid}")).exists());
    assert!(
        !supervised(&scan.join(".hidden")),
        "dot-entries are skipped"
    );
    // a's supervisor has let go of its lock; the scanner reaps it a moment
    // later (until then it is a zombie with no command line).
    wait_for("a's supervisor reaped", 5 * S, || {
        children_of(scanner).len() == 3
    });
    let mut names: Vec<_> = children_of(scanner).into_iter().map(cmdline).collect();
    names.sort();
    assert_eq!(
        names,
        ["yd-supervise b", "yd-supervise c", "yd-supervise d"]
    );
}

#[test]
fn a_killed_supervisor_is_started_again() {
    let mut sb = Sandbox::new("scankill");
    let scan = sb.path("scan");
    let a = sb.service("scan/a", "exec sleep 1000");
    let scanner = sb.spawn(Command::new(bin("yd-svscan")).arg(&scan));
    wait_for("a up", 5 * S, || is_up(&a));
    let old = supervisor_of(scanner, "a").unwrap();
    signal(old, Signal::SIGKILL);
    wait_for("a new supervisor", 5 * S, || {
        supervisor_of(scanner, "a").is_some_and(|p| p != old) && supervised(&a)
    });
}

#[test]
fn one_scanner_per_dir_and_control_commands() {
    let mut sb = Sandbox::new("scanctl");
    let scan = sb.path("scan");
    let a = sb.service("scan/a", "exec sleep 1000");
    let scanner = sb.spawn(Command::new(bin("yd-svscan")).arg(&scan));
    wait_for("a up", 5 * S, || is_up(&a));
    let (code, _, err) = run(Command::new(bin("yd-svscan")).arg(&scan));
    assert_eq!(code, 100, "{err}");
    assert!(err.contains("already scanned"), "{err}");
    let (code, _, err) = run(Command::new(bin("yd-svscan")).arg(sb.path("missing")));
    assert_eq!(code, 100, "{err}");
    // SIGHUP and SIGALRM rescan; they do not stop it.
    signal(scanner, Signal::SIGHUP);
    signal(scanner, Signal::SIGALRM);
    std::thread::sleep(Duration::from_millis(100));
    assert!(supervised(&a));
    std::fs::write(scan.join(".yd-svscan/control"), "t").unwrap();
    assert_eq!(sb.wait_exit(scanner, 10 * S), Some(0));
    assert!(is_down(&a));
}

#[test]
fn as_pid_1_it_reaps_every_orphan() {
    require_root();
    let mut sb = Sandbox::new("scanpid1");
    let scan = sb.path("scan");
    sb.service(
        "scan/forker",
        "i=0\nwhile [ $i -lt 1000 ]; do ( /bin/true & ); i=$((i+1)); done\necho done > ../../forked\nexec sleep 1000",
    );
    let unshare = sb.spawn(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc"])
            .arg(bin("yd-svscan"))
            .arg(&scan),
    );
    wait_for("scanner in its namespace", 5 * S, || {
        children_of(unshare).len() == 1
    });
    let init = children_of(unshare)[0];
    let ns_pid = read(std::path::Path::new(&format!("/proc/{init}/status")))
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .map(|l| l.split_whitespace().last().unwrap().to_string());
    assert_eq!(
        ns_pid.as_deref(),
        Some("1"),
        "the scanner is PID 1 of its namespace"
    );
    wait_for("1000 double forks", 60 * S, || {
        read(&sb.path("forked")) == "done\n"
    });
    // The last orphans may still run a moment (under load): wait for them
    // to end and be reaped, then PID 1 keeps only its supervisor.
    wait_for(
        "every orphan reaped, only the supervisor left",
        10 * S,
        || {
            let kids: Vec<_> = children_of(init).into_iter().map(cmdline).collect();
            kids == ["yd-supervise forker"]
        },
    );
    signal(init, Signal::SIGTERM);
    assert_eq!(sb.wait_exit(unshare, 10 * S), Some(0));
    assert_eq!(processes_under(&sb.root), 0);
}

#[test]
fn down_by_default_keeps_a_new_service_and_its_logger_down_until_enabled() {
    let mut sb = Sandbox::new("scandown");
    let scan = sb.path("scan");
    let talker = sb.service("scan/talker", "while :; do echo hi; sleep 0.1; done");
    sb.file(
        "scan/talker/log/run",
        "#!/bin/sh\nexec cat > ../heard\n",
        0o755,
    );
    let log = talker.join("log");
    let scanner = sb.spawn(Command::new(bin("yd-svscan")).arg("-d").arg(&scan));
    wait_for("both supervised", 5 * S, || {
        supervised(&talker) && supervised(&log)
    });
    assert!(
        is_down(&talker) && is_down(&log),
        "neither runs before it is enabled"
    );
    assert!(talker.join("down").exists() && log.join("down").exists());

    // Enabling the service brings its logger up with it.
    svc("-wu -T 5000 -U", &talker);
    wait_for("the logger up", 5 * S, || is_up(&log));
    wait_for("lines in the log", 5 * S, || {
        read(&talker.join("heard")).contains("hi")
    });

    // After the supervisor restarts, the logger (still marked down) follows.
    let sup = supervisor_of(scanner, "talker").expect("a supervisor");
    signal(sup, Signal::SIGTERM);
    wait_for("a new supervisor", 5 * S, || {
        supervisor_of(scanner, "talker").is_some_and(|p| p != sup)
    });
    wait_for("both up again", 5 * S, || is_up(&talker) && is_up(&log));
}

#[test]
fn a_run_that_cannot_run_is_reported_once_and_started_once_fixed() {
    let mut sb = Sandbox::new("scanbroken");
    let scan = sb.path("scan");
    let broken = sb.path("scan/broken");
    sb.file("scan/broken/run", "#!/bin/sh\nexec sleep 1000\n", 0o644);
    let ok = sb.service("scan/ok", "exec sleep 1000");
    let err = std::fs::File::create(sb.path("scanner.err")).unwrap();
    sb.spawn(Command::new(bin("yd-svscan")).arg(&scan).stderr(err));
    wait_for("the good one up", 5 * S, || is_up(&ok));
    let said = || read(&sb.path("scanner.err"));
    wait_for("the warning", 5 * S, || {
        said().contains("broken/run: run is not an executable file")
    });
    std::fs::set_permissions(
        broken.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    wait_for("the fixed one up", 5 * S, || is_up(&broken));
    assert_eq!(
        said().matches("not an executable file").count(),
        1,
        "{}",
        said()
    );
}
