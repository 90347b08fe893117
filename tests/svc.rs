//! yd-svc, yd-svstat and yd-svok at their edges: exit codes and messages.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

#[test]
fn exit_codes_follow_s6_svc() {
    let mut sb = Sandbox::new("svccodes");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file("svc/down", "", 0o644);
    let other = sb.service("other", "exec sleep 1000");
    sb.supervise(&dir);
    let yd_svc = |args: &[&str]| run(Command::new(bin("yd-svc")).args(args));
    let d = dir.to_str().unwrap();
    let o = other.to_str().unwrap();

    let (code, _, err) = yd_svc(&["-z", d]);
    assert_eq!(code, 100, "unknown flag: {err}");
    assert_eq!(yd_svc(&["-u"]).0, 100, "no DIR");
    assert_eq!(yd_svc(&["-wx", d]).0, 100, "bad wait");
    let (code, _, err) = yd_svc(&["-u", o]);
    assert_eq!(code, 102, "not supervised");
    assert!(err.contains("supervisor not running"), "{err}");
    // One bad dir does not stop the others being served.
    let (code, _, _) = yd_svc(&["-wu", "-T", "5000", "-u", o, d]);
    assert_eq!(code, 102);
    assert!(is_up(&dir));
    let (code, _, err) = yd_svc(&["-wd", "-T", "200", d]);
    assert_eq!(code, 1, "timeout: {err}");
    assert!(err.contains("timed out"));
}

#[test]
fn waits_cover_several_dirs_and_restarts() {
    let mut sb = Sandbox::new("svcwait");
    let a = sb.service("a", "exec sleep 1000");
    let b = sb.service("b", "exec sleep 1000");
    sb.supervise(&a);
    sb.supervise(&b);
    wait_for("both up", Duration::from_secs(5), || is_up(&a) && is_up(&b));
    std::thread::sleep(Duration::from_millis(1100));
    let (pa, pb) = (status(&a).pid, status(&b).pid);
    let (code, _, err) = run(Command::new(bin("yd-svc"))
        .args(["-wr", "-T", "5000", "-t"])
        .arg(&a)
        .arg(&b));
    assert_eq!(code, 0, "{err}");
    assert!(
        status(&a).pid != pa && status(&b).pid != pb,
        "-wr returns only once both restarted"
    );
}

#[test]
fn svstat_and_svok() {
    let mut sb = Sandbox::new("svstat");
    let dir = sb.service("svc", "exec sleep 1000");
    sb.file("svc/down", "", 0o644);
    let unsupervised = sb.service("none", "exec sleep 1000");
    let sup = sb.supervise(&dir);
    let (code, out, _) = run(Command::new(bin("yd-svstat")).arg(&dir).arg(&unsupervised));
    assert_eq!(code, 1);
    let lines: Vec<_> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{}: down ", dir.display()))
            && lines[0].contains("normally down"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        format!("{}: supervisor not running", unsupervised.display())
    );
    svc("-wu -T 5000 -u", &dir);
    let pid = status(&dir).pid;
    let (code, out, _) = run(Command::new(bin("yd-svstat")).arg(&dir));
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!(": up (pid {pid}) ")) && out.contains("ready"),
        "{out}"
    );

    assert_eq!(run(Command::new(bin("yd-svok")).arg(&dir)).0, 0);
    assert_eq!(run(Command::new(bin("yd-svok")).arg(&unsupervised)).0, 100);
    assert_eq!(run(&mut Command::new(bin("yd-svok"))).0, 100);
    svc("-x", &dir);
    sb.wait_exit(sup, Duration::from_secs(5));
    assert_eq!(
        run(Command::new(bin("yd-svok")).arg(&dir)).0,
        100,
        "a dead supervisor is not running"
    );
}

#[test]
fn root_does_not_follow_a_users_supervise_link_to_another_supervisor() {
    require_root();
    let mut sb = Sandbox::new("svclink");
    let theirs = sb.service("theirs", "exec sleep 1000");
    sb.supervise(&theirs);
    wait_for("up", Duration::from_secs(5), || is_up(&theirs));
    // A dir another user owns, whose supervise points at root's supervisor.
    let mine = sb.path("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::os::unix::fs::symlink(theirs.join("supervise"), mine.join("supervise")).unwrap();
    nix::unistd::chown(&mine, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let (code, _, err) = run(Command::new(bin("yd-svc")).arg("-d").arg(&mine));
    assert_eq!(code, 111, "{err}");
    assert!(err.contains("refusing as root"), "{err}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(is_up(&theirs), "the other supervisor got no command");
    // Nor does root read someone else's status out through the link.
    let (code, out, err) = run(Command::new(bin("yd-svstat")).arg(&mine));
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains("refusing as root") && !out.contains("up"),
        "{out}{err}"
    );
}
