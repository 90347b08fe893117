//! The real peers against yd-supervise: runit's sv, daemontools' svc, svstat
//! and svok, s6's s6-svc; and the same service dirs under runsv and
//! yd-supervise, compared.

use crate::common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use yodawg::status::{RunState, Want};

const S: Duration = Duration::from_secs(1);

fn sv(args: &str, dir: &Path) -> (i32, String) {
    let (code, out, err) = run(Command::new(peer("sv"))
        .args(args.split_whitespace())
        .arg(dir));
    (code, out + &err)
}

#[test]
fn runit_sv_drives_yd_supervise() {
    let mut sb = Sandbox::new("sv");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file("svc/down", "", 0o644);
    sb.file("svc/log/run", "#!/bin/sh\nexec cat > /dev/null\n", 0o755);
    let sup = sb.supervise(&dir);
    let d = dir.display().to_string();

    let (code, out) = sv("status", &dir);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("down: {d}: ")) && out.contains("; run: log: (pid "),
        "{out}"
    );

    let (code, out) = sv("-w 5 up", &dir);
    let pid = status(&dir).pid;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with(&format!("ok: run: {d}: (pid {pid}) ")),
        "{out}"
    );
    assert!(out.contains("normally down"), "{out}");

    std::thread::sleep(Duration::from_millis(1100));
    let (code, out) = sv("-w 5 restart", &dir);
    assert_eq!(code, 0, "{out}");
    let pid2 = wait_new_pid(&dir, pid, 5 * S);

    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(sv("term", &dir).0, 0);
    let pid3 = wait_new_pid(&dir, pid2, 5 * S);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(sv("kill", &dir).0, 0);
    let pid4 = wait_new_pid(&dir, pid3, 5 * S);
    assert_eq!(status(&dir).last_exit.and_then(|e| e.signal()), Some(9));

    let (code, out) = sv("-w 5 down", &dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(&format!("ok: down: {d}: ")), "{out}");
    assert!(!Path::new(&format!("/proc/{pid4}")).exists());

    assert_eq!(sv("once", &dir).0, 0);
    wait_for("up once", 5 * S, || is_up(&dir));
    assert_eq!(status(&dir).want, Want::Down);
    let once = status(&dir).pid;
    assert_eq!(sv("kill", &dir).0, 0);
    wait_for("once stays down", 5 * S, || {
        try_status(&dir).is_some_and(|s| s.state == RunState::Down)
    });
    assert!(status(&dir).pid != once);

    assert_eq!(sv("exit", &dir).0, 0);
    assert_eq!(sb.wait_exit(sup, 5 * S), Some(0));
    let (code, out) = sv("status", &dir);
    assert_ne!(code, 0);
    assert!(out.contains("runsv not running"), "{out}");
}

#[test]
fn daemontools_svc_svstat_svok_drive_yd_supervise() {
    let mut sb = Sandbox::new("daemontools");
    let dir = sb.service(
        "svc",
        "trap 'echo HUP >> ../got' HUP\nwhile :; do sleep 0.05; done",
    );
    sb.file("svc/down", "", 0o644);
    assert_eq!(run(Command::new(peer("svok")).arg(&dir)).0, 100);
    let sup = sb.supervise(&dir);
    let svstat = || run(Command::new(peer("svstat")).arg(&dir)).1;
    let dt = |flags: &str| {
        assert_eq!(
            run(Command::new(peer("svc")).arg(flags).arg(&dir)).0,
            0,
            "svc {flags}"
        )
    };
    assert_eq!(run(Command::new(peer("svok")).arg(&dir)).0, 0);
    let d = dir.display().to_string();
    assert!(svstat().starts_with(&format!("{d}: down ")), "{}", svstat());

    dt("-u");
    wait_for("up", 5 * S, || is_up(&dir));
    let pid = status(&dir).pid;
    let out = svstat();
    assert!(
        out.starts_with(&format!("{d}: up (pid {pid}) ")) && out.contains("normally down"),
        "{out}"
    );
    dt("-p");
    wait_for("svstat to say paused", 5 * S, || {
        svstat().contains("paused")
    });
    wait_for("stopped", 5 * S, || proc_state(pid) == Some('T'));
    dt("-c");
    wait_for("continued", 5 * S, || proc_state(pid) != Some('T'));
    std::thread::sleep(Duration::from_millis(100));
    dt("-h");
    wait_for("HUP delivered", 5 * S, || read(&sb.path("got")) == "HUP\n");
    dt("-d");
    wait_for("down", 5 * S, || is_down(&dir));
    dt("-o");
    wait_for("up once", 5 * S, || is_up(&dir));
    assert!(svstat().contains("want down"), "{}", svstat());
    dt("-dx");
    assert_eq!(sb.wait_exit(sup, 5 * S), Some(0));
    assert_eq!(run(Command::new(peer("svok")).arg(&dir)).0, 100);
    assert!(svstat().contains("supervise not running"), "{}", svstat());
}

#[test]
fn s6_svc_drives_yd_supervise() {
    let mut sb = Sandbox::new("s6svc");
    let dir = sb.service("svc", "exec sleep 1000");
    let sup = sb.supervise(&dir);
    let s6 = |flag: &str| {
        assert_eq!(
            run(Command::new(peer("s6-svc")).arg(flag).arg(&dir)).0,
            0,
            "s6-svc {flag}"
        )
    };
    wait_for("up", 5 * S, || is_up(&dir));
    s6("-d");
    wait_for("down", 5 * S, || is_down(&dir));
    s6("-D");
    wait_for("-D to make the down file", 5 * S, || {
        dir.join("down").exists()
    });
    s6("-U");
    wait_for("-U to remove it", 5 * S, || !dir.join("down").exists());
    wait_for("up", 5 * S, || is_up(&dir));
    std::thread::sleep(Duration::from_millis(1100));
    let pid = status(&dir).pid;
    s6("-r");
    let pid = wait_new_pid(&dir, pid, 5 * S);
    std::thread::sleep(Duration::from_millis(1100));
    s6("-k");
    wait_new_pid(&dir, pid, 5 * S);
    s6("-O");
    wait_for("-O to want down", 5 * S, || status(&dir).want == Want::Down);
    s6("-x");
    assert_eq!(
        sb.wait_exit(sup, 5 * S),
        Some(0),
        "-x: down, then the supervisor exits"
    );
    let (code, _, _) = run(Command::new(peer("s6-svc")).arg("-u").arg(&dir));
    assert_eq!(code, 100, "s6-svc sees that no supervisor listens");
}

/// Digits become N and the dir's path DIR: what stays must match exactly.
fn normalize(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "DIR");
    let mut out = String::new();
    let mut in_digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// Drive one service dir through a script of sv commands; what it observed.
fn drive(sb: &mut Sandbox, supervisor: &Path, tag: &str) -> Vec<String> {
    let dir = sb.service(
        &format!("{tag}/svc"),
        "echo \"out $(cat ../mode)\"\necho start >> ../events\ncase $(cat ../mode) in exit*) exit 7;; esac\nexec sleep 1000",
    );
    sb.file(&format!("{tag}/mode"), "sleep\n", 0o644);
    sb.file(
        &format!("{tag}/svc/finish"),
        "#!/bin/sh\necho \"finish $1 $2\" >> ../events\n",
        0o755,
    );
    sb.file(
        &format!("{tag}/svc/log/run"),
        "#!/bin/sh\nexec cat >> ../../log.out\n",
        0o755,
    );
    sb.file(&format!("{tag}/svc/down"), "", 0o644);
    let sup = sb.spawn(Command::new(supervisor).arg(&dir));
    // runsv answers status a moment before its logger runs (seen under
    // load); both must get there, and are compared from there on.
    wait_for("supervisor and its logger up", 5 * S, || {
        let (code, out) = sv("status", &dir);
        code == 0 && out.contains("; run: log:")
    });
    let mut seen = Vec::new();
    let mut note =
        |what: &str, out: String| seen.push(format!("{what}: {}", normalize(&out, &dir)));
    note("initial", sv("status", &dir).1);
    note("up", sv("-w 5 up", &dir).1);
    std::thread::sleep(Duration::from_millis(1100));
    let pid = status(&dir).pid;
    sv("kill", &dir);
    wait_new_pid(&dir, pid, 5 * S);
    // The restarted run has begun when it says so, not when it is forked
    // (it logs its line before it writes "start").
    let events = sb.path(&format!("{tag}/events"));
    wait_for("the restarted run's start", 5 * S, || {
        read(&events).matches("start").count() == 2
    });
    note("after kill", sv("status", &dir).1);
    note("down", sv("-w 5 down", &dir).1);
    sb.file(&format!("{tag}/mode"), "exit\n", 0o644);
    note("once", sv("once", &dir).1);
    wait_for("once done", 5 * S, || {
        read(&sb.path(&format!("{tag}/events"))).contains("finish 7 0")
    });
    wait_for("down after once", 5 * S, || is_down(&dir));
    note("after once", sv("status", &dir).1);
    note("exit", sv("exit", &dir).1);
    assert_eq!(sb.wait_exit(sup, 5 * S), Some(0), "{tag} supervisor exits");
    seen.push(format!(
        "events: {}",
        read(&sb.path(&format!("{tag}/events")))
    ));
    seen.push(format!(
        "log: {}",
        read(&sb.path(&format!("{tag}/log.out")))
    ));
    seen
}

#[test]
fn the_same_service_dirs_under_runsv_and_yd_supervise_agree() {
    let mut sb = Sandbox::new("differential");
    let runsv = drive(&mut sb, &peer("runsv"), "runsv");
    let yd = drive(&mut sb, &bin("yd-supervise"), "yd");
    assert_eq!(runsv, yd);
}

#[test]
fn yd_svc_and_yd_svstat_drive_runsv() {
    let mut sb = Sandbox::new("ydonrunsv");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file("svc/down", "", 0o644);
    sb.spawn(Command::new(peer("runsv")).arg(&dir));
    wait_for("runsv to answer", 5 * S, || supervised(&dir));
    svc("-wu -T 5000 -u", &dir);
    let pid = status(&dir).pid;
    let (code, out, _) = run(Command::new(bin("yd-svstat")).arg(&dir));
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("{}: up (pid {pid}) ", dir.display())),
        "{out}"
    );
    svc("-wd -T 5000 -d", &dir);
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(run(Command::new(bin("yd-svok")).arg(&dir)).0, 0);
}
