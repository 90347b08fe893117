//! yd-supervise: the life of one service, with real processes and signals.

use crate::common::*;
use std::process::Command;
use std::time::{Duration, Instant};
use yodawg::status::{RunState, Want};

const S: Duration = Duration::from_secs(1);

#[test]
fn up_down_once_and_restart() {
    let mut sb = Sandbox::new("updown");
    let dir = sb.service("svc", "echo start >> ../starts\nexec sleep 1000");
    sb.file("svc/down", "", 0o644);
    sb.supervise(&dir);
    let st = status(&dir);
    assert_eq!(
        (st.state, st.want),
        (RunState::Down, Want::Down),
        "a down file keeps it down"
    );
    assert_eq!(read(&sb.path("starts")), "");

    // A run has begun when it says so, not when it is forked: a signal
    // sent in between would kill it before its line is written.
    let starts = sb.path("starts");
    let started = |n: usize| {
        wait_for(&format!("start {n}"), 5 * S, || {
            read(&starts).lines().count() == n
        })
    };
    svc("-wu -T 5000 -u", &dir);
    let first = status(&dir).pid;
    assert!(std::path::Path::new(&format!("/proc/{first}")).exists());
    started(1);

    // -t: killed, and restarted since it is wanted up.
    svc("-t", &dir);
    let second = wait_new_pid(&dir, first, 5 * S);
    started(2);
    svc("-wD -T 5000 -d", &dir);
    assert_eq!(status(&dir).pid, 0);
    assert!(
        !std::path::Path::new(&format!("/proc/{second}")).exists(),
        "down means the process is gone"
    );

    // -o: runs once; when it dies it stays down.
    svc("-wu -T 5000 -o", &dir);
    started(3);
    svc("-wD -T 5000 -k", &dir);
    let st = status(&dir);
    assert_eq!((st.state, st.want), (RunState::Down, Want::Down));
    assert_eq!(read(&starts).lines().count(), 3, "once means once");
}

#[test]
fn finish_gets_exit_code_and_signal_like_runsv() {
    let mut sb = Sandbox::new("finish");
    let dir = sb.service(
        "svc",
        "read n < ../mode\ncase $n in exit) exit 3;; *) exec sleep 1000;; esac",
    );
    sb.file("mode", "exit\n", 0o644);
    sb.file(
        "svc/finish",
        "#!/bin/sh\necho \"$@\" >> ../finish.args\n",
        0o755,
    );
    sb.file("svc/down", "", 0o644);
    sb.supervise(&dir);
    svc("-wD -T 5000 -o", &dir);
    wait_for("finish after exit 3", 5 * S, || {
        read(&sb.path("finish.args")) == "3 0\n"
    });
    sb.file("mode", "sleep\n", 0o644);
    svc("-wu -T 5000 -o", &dir);
    svc("-wD -T 5000 -k", &dir);
    assert_eq!(lines(&sb.path("finish.args")), ["3 0", "-1 9"]);
    assert_eq!(status(&dir).last_exit.and_then(|e| e.signal()), Some(9));
}

#[test]
fn finish_exit_125_keeps_the_service_down() {
    let mut sb = Sandbox::new("f125");
    let dir = sb.service("svc", "echo x >> ../starts\nexit 1");
    sb.file("svc/finish", "#!/bin/sh\nexit 125\n", 0o755);
    sb.supervise(&dir);
    wait_for("down after finish 125", 5 * S, || {
        try_status(&dir).is_some_and(|s| s.want == Want::Down && s.state == RunState::Down)
    });
    // Well past the 1 s restart delay: still exactly one start.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(read(&sb.path("starts")), "x\n");
}

#[test]
fn timeout_finish_kills_a_slow_finish() {
    let mut sb = Sandbox::new("tfinish");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file(
        "svc/finish",
        "#!/bin/sh\necho $$ > ../finish.pid\nexec sleep 1000\n",
        0o755,
    );
    sb.file("svc/timeout-finish", "300\n", 0o644);
    sb.supervise(&dir);
    wait_for("up", 5 * S, || is_up(&dir));
    let first = status(&dir).pid;
    let t0 = Instant::now();
    svc("-k", &dir);
    wait_for("finish running", 5 * S, || {
        try_status(&dir).is_some_and(|s| s.state == RunState::Finish)
    });
    wait_new_pid(&dir, first, 5 * S);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "finish killed after {took:?}"
    );
}

#[test]
fn pause_continue_and_signals_reach_the_service() {
    let mut sb = Sandbox::new("signals");
    let run =
        "for s in HUP ALRM INT QUIT USR1 USR2 WINCH; do trap \"echo $s >> ../got\" $s; done\n\
               echo ready > ../ready\nwhile :; do sleep 0.05; done";
    let dir = sb.service("svc", run);
    sb.supervise(&dir);
    wait_for("service ready", 5 * S, || {
        read(&sb.path("ready")) == "ready\n"
    });
    let pid = status(&dir).pid;
    svc("-p", &dir);
    wait_for("status paused", 5 * S, || status(&dir).paused);
    wait_for("stopped", 5 * S, || proc_state(pid) == Some('T'));
    svc("-c", &dir);
    wait_for("status not paused", 5 * S, || !status(&dir).paused);
    wait_for("running again", 5 * S, || proc_state(pid) != Some('T'));
    for (flag, name) in [
        ("-h", "HUP"),
        ("-a", "ALRM"),
        ("-i", "INT"),
        ("-q", "QUIT"),
        ("-1", "USR1"),
        ("-2", "USR2"),
        ("-y", "WINCH"),
    ] {
        svc(flag, &dir);
        wait_for(name, 5 * S, || {
            read(&sb.path("got")).lines().any(|l| l == name)
        });
    }
    assert_eq!(status(&dir).pid, pid, "no signal above stops the service");
}

#[test]
fn exit_brings_it_down_and_the_supervisor_exits() {
    let mut sb = Sandbox::new("exit");
    let dir = sb.service("svc", "exec sleep 1000");
    let sup = sb.supervise(&dir);
    wait_for("up", 5 * S, || is_up(&dir));
    let pid = status(&dir).pid;
    svc("-x", &dir);
    assert_eq!(sb.wait_exit(sup, 5 * S), Some(0));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!supervised(&dir));
}

#[test]
fn sigterm_to_the_supervisor_takes_the_service_down() {
    let mut sb = Sandbox::new("sigterm");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file(
        "svc/log/run",
        "#!/bin/sh\nexec cat > ../../log.out\n",
        0o755,
    );
    let sup = sb.supervise(&dir);
    wait_for("up", 5 * S, || is_up(&dir) && is_up(&dir.join("log")));
    let (pid, log_pid) = (status(&dir).pid, status(&dir.join("log")).pid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sup as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(sb.wait_exit(sup, 5 * S), Some(0));
    for p in [pid, log_pid] {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "pid {p} outlived its supervisor"
        );
    }
}

#[test]
fn readiness_through_notification_fd() {
    let mut sb = Sandbox::new("ready");
    let dir = sb.service(
        "svc",
        "until [ -e ../go ]; do sleep 0.01; done\necho >&4\nexec sleep 1000",
    );
    sb.file("svc/notification-fd", "4\n", 0o644);
    sb.supervise(&dir);
    wait_for("up", 5 * S, || is_up(&dir));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        status(&dir).ready,
        None,
        "up but not ready before the newline"
    );
    let waiter = Command::new(bin("yd-svc"))
        .args(["-wU", "-T", "5000"])
        .arg(&dir)
        .spawn()
        .unwrap();
    sb.file("go", "", 0o644);
    let out = waiter.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(status(&dir).ready.is_some());
    let (_, line, _) = run(Command::new(bin("yd-svstat")).arg(&dir));
    assert!(line.contains(", ready "), "{line}");
}

#[test]
fn a_crash_loop_is_throttled_and_a_long_runner_restarts_at_once() {
    let mut sb = Sandbox::new("throttle");
    let crasher = sb.service("crash", "echo x >> ../crashes\nexit 1");
    sb.supervise(&crasher);
    std::thread::sleep(Duration::from_millis(3200));
    let starts = read(&sb.path("crashes")).lines().count();
    assert!(
        (3..=5).contains(&starts),
        "{starts} starts in 3.2 s: one a second expected"
    );
    let st = status(&crasher);
    assert_eq!(st.last_exit.and_then(|e| e.code()), Some(1));
    let (_, line, _) = run(Command::new(bin("yd-svstat")).arg(&crasher));
    assert!(line.contains("last exit 1"), "{line}");

    let steady = sb.service("steady", "exec sleep 1000");
    sb.supervise(&steady);
    wait_for("up", 5 * S, || is_up(&steady));
    std::thread::sleep(Duration::from_millis(1100));
    let old = status(&steady).pid;
    let t0 = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    wait_new_pid(&steady, old, 5 * S);
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "restart took {:?}",
        t0.elapsed()
    );
}

#[test]
fn one_supervisor_per_directory() {
    let mut sb = Sandbox::new("lock");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.supervise(&dir);
    let (code, _, err) = run(Command::new(bin("yd-supervise")).arg(&dir));
    assert_eq!(code, 100);
    assert!(err.contains("already supervised"), "{err}");
}

#[test]
fn bad_input_gets_one_line_and_a_documented_code() {
    let sb = Sandbox::new("badinput");
    let no_run = sb.path("norun");
    std::fs::create_dir_all(&no_run).unwrap();
    let not_exec = sb.path("noexec");
    sb.file("noexec/run", "#!/bin/sh\n", 0o644);
    let bad_log = sb.service("badlog", "exec sleep 1");
    std::fs::create_dir_all(bad_log.join("log")).unwrap();
    let file = sb.file("plainfile", "", 0o644);
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (vec![no_run.clone().into()], "run: No such file"),
        (vec![not_exec.into()], "not executable"),
        (vec![bad_log.into()], "log/run: No such file"),
        (vec![file.into()], "not a directory"),
        (vec![sb.path("missing").into()], "No such file"),
        (vec![], "usage"),
        (vec!["-z".into()], "usage"),
    ];
    for (args, msg) in cases {
        let (code, out, err) = run(Command::new(bin("yd-supervise")).args(&args));
        assert_eq!(code, 100, "{args:?}: {err}");
        assert!(out.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("yd-supervise: fatal: ") && err.contains(msg),
            "{args:?}: {err}"
        );
    }
    assert!(
        !no_run.join("supervise").exists(),
        "a rejected dir is left untouched"
    );
}

#[test]
fn hundred_thousand_lines_arrive_once_while_both_sides_restart() {
    const N: u32 = 100_000;
    let mut sb = Sandbox::new("logpipe");
    // The producer resumes from its counter; TERM only sets a flag, checked
    // after each line is written and counted, so it stops between lines.
    let producer = format!(
        "n=$(cat ../count 2>/dev/null || echo 0)\nstop=\ntrap 'stop=1' TERM\n\
         while [ $n -lt {N} ] && [ -z \"$stop\" ]; do\n  echo \"line $n\"\n  n=$((n+1))\n\
         \x20 [ $((n % 1000)) -eq 0 ] && sleep 0.02\ndone\necho $n > ../count.new && mv ../count.new ../count\n\
         [ -n \"$stop\" ] && exit 0\nexec sleep 1000"
    );
    let dir = sb.service("svc", &producer);
    sb.file(
        "svc/log/run",
        &format!(
            "#!/bin/sh\nexec {} -s 300000 -n 1000 ./main\n",
            bin("yd-log").display()
        ),
        0o755,
    );
    sb.supervise(&dir);
    let log = dir.join("log");
    let mut restarts = (0, 0);
    let done = || read(&sb.path("count")).trim() == N.to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "producer never finished");
        std::thread::sleep(Duration::from_millis(150));
        if restarts.0 <= restarts.1 && restarts.0 < 5 {
            svc("-t", &dir);
            restarts.0 += 1;
        } else if restarts.1 < 5 {
            svc("-t", &log);
            restarts.1 += 1;
        }
    }
    // Everything the producer wrote is in the pipe or the log by now.
    let collect = || -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(log.join("main"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.retain(|p| p.file_name().unwrap().to_string_lossy().starts_with('@'));
        files.sort();
        files.push(log.join("main/current"));
        files
            .iter()
            .flat_map(|f| lines(f))
            .map(|l| l.split_once(' ').unwrap().1.to_string())
            .collect()
    };
    wait_for("all lines logged", Duration::from_secs(20), || {
        collect().len() >= N as usize
    });
    let got = collect();
    assert!(restarts.0 >= 2 && restarts.1 >= 2, "restarts {restarts:?}");
    assert_eq!(got.len(), N as usize, "every line exactly once");
    for (i, line) in got.iter().enumerate() {
        assert_eq!(
            line,
            &format!("line {i}"),
            "in order, none lost or repeated"
        );
    }
}

/// A process's open fds, sorted, and each with what it points to.
fn open_fds(pid: u32) -> (Vec<String>, Vec<String>) {
    let mut open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into())
        .collect();
    open.sort();
    let targets = open
        .iter()
        .map(|fd| {
            format!(
                "{fd} -> {}",
                std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    (open, targets)
}

#[test]
fn services_get_no_supervisor_fd_no_blocked_signal_and_their_own_session() {
    let mut sb = Sandbox::new("hygiene");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file("svc/notification-fd", "5\n", 0o644);
    sb.file("svc/log/run", "#!/bin/sh\nexec sleep 1000\n", 0o755);
    // The supervisor is started the way a shell's `&` would: SIGINT ignored.
    sb.spawn(Command::new("sh").arg("-c").arg(format!(
        "trap '' INT QUIT; exec {} {}",
        bin("yd-supervise").display(),
        dir.display()
    )));
    wait_for("both up", 5 * S, || is_up(&dir) && is_up(&dir.join("log")));
    for (svc, fds) in [
        (dir.clone(), vec!["0", "1", "2", "5"]),
        (dir.join("log"), vec!["0", "1", "2"]),
    ] {
        let pid = status(&svc).pid;
        // Look once run has exec'd sleep: the shell has fds of its own.
        wait_for("exec of sleep", 5 * S, || cmdline(pid) == "sleep 1000");
        // sleep opens its locale files for a moment after the exec: look
        // until the set settles (an inherited fd never goes).
        let deadline = Instant::now() + 2 * S;
        let (open, targets) = loop {
            let (open, targets) = open_fds(pid);
            if open == fds || Instant::now() > deadline {
                break (open, targets);
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(
            open,
            fds,
            "{}: only stdio (and the readiness fd) cross over: {targets:?}",
            svc.display()
        );
        let proc_status = read(std::path::Path::new(&format!("/proc/{pid}/status")));
        for field in ["SigBlk", "SigIgn"] {
            let line = proc_status.lines().find(|l| l.starts_with(field)).unwrap();
            assert!(
                line.ends_with("0000000000000000"),
                "{}: {line}",
                svc.display()
            );
        }
        let sid = nix::unistd::getsid(Some(nix::unistd::Pid::from_raw(pid as i32))).unwrap();
        assert_eq!(sid.as_raw() as u32, pid, "run leads its own session");
    }
}

#[test]
fn a_crash_loop_is_reported_once() {
    let mut sb = Sandbox::new("crashmsg");
    let dir = sb.service("svc", "exit 3");
    let log = std::fs::File::create(sb.path("stderr")).unwrap();
    let sup = sb.spawn(Command::new(bin("yd-supervise")).arg(&dir).stderr(log));
    std::thread::sleep(Duration::from_millis(2500));
    let err = read(&sb.path("stderr"));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("run died young (exit 3); restarting it at most once a second"),
        "{err}"
    );
    signal_term(sup);
}

fn signal_term(pid: u32) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::SIGTERM,
    )
    .unwrap();
}

#[test]
fn a_planted_down_symlink_is_not_followed() {
    let mut sb = Sandbox::new("downlink");
    let dir = sb.service("svc", "exec sleep 1000");
    let victim = sb.file("victim", "precious\n", 0o644);
    sb.supervise(&dir);
    std::os::unix::fs::symlink(&victim, dir.join("down")).unwrap();
    svc("-D", &dir);
    wait_for("down", 5 * S, || is_down(&dir));
    assert_eq!(
        read(&victim),
        "precious\n",
        "-D neither follows nor truncates"
    );
}

#[test]
fn root_refuses_dirs_another_user_can_change() {
    require_root();
    let sb = Sandbox::new("rootonly");
    // Any uid but root's will do; no NSS lookup in a static binary.
    let other = nix::unistd::Uid::from_raw(65534);
    let chown = |p: &std::path::Path| nix::unistd::chown(p, Some(other), None).unwrap();
    let theirs = sb.service("theirs", "exec sleep 1000");
    chown(&theirs);
    let their_run = sb.service("theirrun", "exec sleep 1000");
    chown(&their_run.join("run"));
    let shared = sb.service("shared", "exec sleep 1000");
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // A supervise symlink pointing where another user chose.
    let redirected = sb.service("redirected", "exec sleep 1000");
    let elsewhere = sb.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    chown(&elsewhere);
    std::os::unix::fs::symlink(&elsewhere, redirected.join("supervise")).unwrap();
    for dir in [&theirs, &their_run, &shared, &redirected] {
        let (code, _, err) = run(Command::new(bin("yd-supervise")).arg(dir));
        assert_eq!(code, 100, "{}: {err}", dir.display());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("owned by uid") && err.contains("mode"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through the symlink"
    );
}
