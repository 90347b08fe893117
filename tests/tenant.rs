//! Tenants, as root: real users, overlay mounts, namespaces and processes.

use crate::common::*;
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// A host root with a scanner over its tenants, and the tenants a test made;
/// all of them removed when the test ends, pass or fail.
pub(crate) struct Host {
    pub sb: Sandbox,
    pub root: PathBuf,
    pub names: Vec<String>,
    scanner: Option<u32>,
}

impl Host {
    /// A host whose tenants run without Docker (the host config turns it
    /// off, as an operator would): what these tests look at is elsewhere.
    pub fn new(tag: &str) -> Host {
        let host = Host::with_docker(tag);
        std::fs::write(host.root.join("config/docker.enabled"), "no\n").unwrap();
        host
    }

    pub fn with_docker(tag: &str) -> Host {
        require_root();
        let sb = Sandbox::new(tag);
        let root = sb.path("root");
        let (code, out, err) = run(Command::new(bin("yd-mkhome"))
            .arg("--root")
            .arg(&root)
            .arg("--setup"));
        assert_eq!(code, 0, "setup: {out}{err}");
        Host {
            sb,
            root,
            names: Vec::new(),
            scanner: None,
        }
    }

    /// A tenant name unique to this test run.
    pub fn name(&self, letter: char) -> String {
        format!("t{}{letter}", std::process::id() % 100_000)
    }

    pub fn mkhome(&mut self, name: &str) {
        let (code, out, err) = run(Command::new(bin("yd-mkhome"))
            .arg("--root")
            .arg(&self.root)
            .arg(name));
        assert_eq!(code, 0, "yd-mkhome {name}: {out}{err}");
        self.names.push(name.to_string());
    }

    /// Make these tenants, start the host scanner, wait until all run.
    pub fn run_tenants(&mut self, names: &[&str]) {
        for name in names {
            self.mkhome(name);
        }
        self.start_scanner();
        for name in names {
            self.wait_up(name);
        }
    }

    pub fn service(&self, name: &str) -> PathBuf {
        self.root.join("tenants").join(name)
    }

    pub fn start_scanner(&mut self) {
        let pid = self
            .sb
            .spawn(Command::new(bin("yd-svscan")).arg(self.root.join("tenants")));
        self.scanner = Some(pid);
    }

    pub fn stop_scanner(&mut self) {
        if let Some(pid) = self.scanner.take() {
            signal(pid, Signal::SIGTERM);
            assert_eq!(self.sb.wait_exit(pid, 30 * S), Some(0));
        }
    }

    /// Wait until the tenant runs with both sub-scanners up, under live
    /// supervisors: status files a killed instance left say "up" too.
    pub fn wait_up(&self, name: &str) {
        let home = home_of(name);
        let live = |d: &Path| supervised(d) && is_up(d);
        wait_for(&format!("tenant {name} up"), 15 * S, || {
            live(&self.service(name))
                && live(&home.join("services"))
                && live(&home.join("pipelines"))
        });
    }

    pub fn join(&self, name: &str, script: &str) -> (i32, String, String) {
        run(Command::new(bin("yd-nsenter"))
            .arg("--root")
            .arg(&self.root)
            .args(["--join", name, "--", "sh", "-c", script]))
    }

    pub fn pid1(&self, name: &str) -> u32 {
        let sup = status(&self.service(name)).pid;
        children_of(sup)[0]
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(pid) = self.scanner.take() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGTERM);
            let _ = self.sb.wait_exit(pid, 30 * S);
        }
        for name in &self.names {
            let removed = Command::new(bin("yd-mkhome"))
                .arg("--root")
                .arg(&self.root)
                .args(["--remove", "--purge", name])
                .output();
            if !removed.is_ok_and(|o| o.status.success()) {
                // Leave the machine clean even so.
                let user = format!("yd-{name}");
                let _ = Command::new("pkill").args(["-9", "-u", &user]).status();
                for m in ["libs", "services", ""] {
                    let _ = Command::new("umount")
                        .arg("-l")
                        .arg(home_of(name).join(m))
                        .status();
                }
                let _ = Command::new("userdel").arg(&user).status();
                let _ = std::fs::remove_dir(home_of(name));
            }
        }
    }
}

pub(crate) fn home_of(name: &str) -> PathBuf {
    Path::new("/home").join(format!("yd-{name}"))
}

pub(crate) fn uid_of(name: &str) -> Option<u32> {
    yodawg::tenant::accounts::lookup(&format!("yd-{name}"))
        .unwrap()
        .map(|a| a.uid)
}

pub(crate) fn processes_of(uid: u32) -> usize {
    yodawg::tenant::accounts::processes_of(uid).unwrap()
}

fn mounts_under(path: &Path) -> usize {
    read(Path::new("/proc/self/mountinfo"))
        .lines()
        .filter(|l| {
            l.split(' ')
                .nth(4)
                .is_some_and(|m| Path::new(m).starts_with(path))
        })
        .count()
}

#[test]
fn lifecycle_make_start_stop_start_remove() {
    let mut host = Host::new("tenantlife");
    let name = host.name('a');
    host.mkhome(&name);
    let uid = uid_of(&name).expect("the user exists");
    assert!(read(Path::new("/etc/subuid"))
        .lines()
        .any(|l| l.starts_with(&format!("yd-{name}:"))));
    host.start_scanner();
    host.wait_up(&name);
    let exports = host.root.join("exports").join(&name);
    let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&exports).unwrap());
    assert_eq!(owner, uid, "its exports dir is its own");
    let (code, out, err) = host.join(&name, "echo kept > ~/note && cat ~/note");
    assert_eq!((code, out.as_str()), (0, "kept\n"), "{err}");

    let svc_dir = host.service(&name);
    svc("-wD -T 20000 -d", &svc_dir);
    wait_for("nothing of the tenant running", 10 * S, || {
        processes_of(uid) == 0
    });
    wait_for("no mount left", 10 * S, || {
        mounts_under(&home_of(&name)) == 0
    });
    let (code, _, _) = run(Command::new(bin("yd-svc")).args(["-d"]).arg(&svc_dir));
    assert_eq!(code, 0, "stopping a stopped tenant is fine");
    assert!(is_down(&svc_dir));

    svc("-u", &svc_dir);
    host.wait_up(&name);
    let (_, out, _) = host.join(&name, "cat ~/note");
    assert_eq!(out, "kept\n", "what the tenant wrote survives a restart");

    let (code, _, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .args(["--remove", &name]));
    assert_eq!(code, 100, "refused while running: {err}");
    svc("-wD -T 20000 -d", &svc_dir);
    let (code, out, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .args(["--remove", "--purge", &name]));
    assert_eq!(code, 0, "{out}{err}");
    host.names.clear();
    assert!(uid_of(&name).is_none(), "no user left");
    for file in ["/etc/subuid", "/etc/subgid", "/etc/group"] {
        assert!(
            !read(Path::new(file)).contains(&format!("yd-{name}:")),
            "{file}"
        );
    }
    assert_eq!(processes_of(uid), 0);
    assert_eq!(mounts_under(&home_of(&name)), 0);
    assert!(!host.root.join("state").join(&name).exists() && !home_of(&name).exists());
    assert!(
        !host.root.join("exports").join(&name).exists(),
        "its exports are gone"
    );
}

#[test]
fn a_tenant_sees_only_itself() {
    let mut host = Host::new("tenantiso");
    let (a, b) = (host.name('b'), host.name('c'));
    host.mkhome(&a);
    host.mkhome(&b);
    // Limits are the host's: the host config for all, then one tenant's own.
    std::fs::write(host.root.join("config/tenant.max-open-files"), "2000\n").unwrap();
    std::fs::create_dir_all(host.service(&b).join("config")).unwrap();
    std::fs::write(
        host.service(&b).join("config/tenant.max-open-files"),
        "1000\n",
    )
    .unwrap();
    std::fs::write(host.root.join("template/shared"), "from the template\n").unwrap();
    std::fs::create_dir_all(host.root.join("services/napper")).unwrap();
    std::fs::write(
        host.root.join("services/napper/run"),
        "#!/bin/sh\nexec sleep 1000\n",
    )
    .unwrap();
    std::fs::write(host.root.join("services/napper/down"), "").unwrap();
    host.start_scanner();
    host.wait_up(&a);
    host.wait_up(&b);
    // Host service definitions appear in ~/services; a host library update
    // shows in ~/libs at once; --join gives the tenant's environment.
    std::fs::write(host.root.join("lib/fresh.sh"), "fresh\n").unwrap();
    let (code, out, err) = host.join(&a, "cat ~/services/napper/run ~/libs/fresh.sh; echo \"$HOME $USER $XDG_RUNTIME_DIR $YD_TENANT\"");
    assert_eq!(code, 0, "{err}");
    let env_line = format!(
        "{} yd-{a} /run/user/{} {a}",
        home_of(&a).display(),
        uid_of(&a).unwrap()
    );
    assert_eq!(
        out,
        format!("#!/bin/sh\nexec sleep 1000\nfresh\n{env_line}\n")
    );
    let uid = uid_of(&a).unwrap();
    let range = |n: &str| {
        yodawg::tenant::accounts::range_of(&format!("yd-{n}"))
            .unwrap()
            .unwrap()
    };
    let ((sa, ca), (sb_, cb)) = (range(&a), range(&b));
    assert!(
        ca == 65536 && cb == 65536 && (sa + ca <= sb_ || sb_ + cb <= sa),
        "ranges overlap: {sa}+{ca} {sb_}+{cb}"
    );
    let probe = format!(
        "echo \"uid=$(id -u) groups=$(id -G)\"\n\
         echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"\n\
         grep CapEff /proc/self/status\n\
         for p in /proc/[0-9]*; do [ -r $p/status ] && awk '/^Uid:/ {{print $2}}' $p/status; done | sort -u | tr '\\n' ' '; echo\n\
         for f in /usr/x /etc/x ~/libs/x /x; do touch $f 2>/dev/null && echo \"wrote $f\"; done\n\
         echo more >> ~/shared 2>/dev/null && echo 'wrote the template copy'\n\
         ls {other} 2>&1 | head -1; ls {root} 2>&1 | head -1",
        other = home_of(&b).display(),
        root = host.root.display()
    );
    let (code, out, err) = host.join(&a, &probe);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!("uid={uid} groups={uid}")
            .replace(&format!("groups={uid}"), &format!("groups={}", gid_of(&a)))
    );
    assert_eq!(
        lines[1].trim(),
        format!("pid1=/run/yodawg/bin/yd-svscan {}", home_of(&a).display())
    );
    assert_eq!(lines[2], "CapEff:\t0000000000000000");
    assert_eq!(
        lines[3].trim(),
        uid.to_string(),
        "only the tenant's own processes are visible"
    );
    assert!(
        !out.contains("wrote"),
        "no write to /usr, /etc, ~/libs, / or the template's file: {out}"
    );
    assert!(
        out.contains(&format!("cannot access '{}'", home_of(&b).display())),
        "the other tenant's home is not there: {out}"
    );
    assert!(
        out.contains(&format!("cannot access '{}'", host.root.display())),
        "the host root is not there: {out}"
    );
    assert_eq!(
        read(&host.root.join("template/shared")),
        "from the template\n",
        "the template is untouched"
    );
    // The template's own files are read-only to the tenant; its own are not.
    let (code, _, _) = host.join(&a, "echo x >> ~/services/run");
    assert_ne!(
        code, 0,
        "the template's run files are not the tenant's to change"
    );
    let (code, _, err) = host.join(&a, "echo mine > ~/config/colour && cat ~/config/colour");
    assert_eq!(code, 0, "{err}");
    let (_, out_b, _) = host.join(&b, "cat ~/shared");
    assert_eq!(
        out_b, "from the template\n",
        "b sees the template, not a's change"
    );
    for (t, want) in [(&a, "2000 2000"), (&b, "1000 1000")] {
        let (_, out, _) = host.join(t, "echo $(ulimit -Sn) $(ulimit -Hn)");
        assert_eq!(out.trim(), want, "rlimits set by the host for {t}");
        let (_, out, _) = host.join(
            t,
            "grep 'Max open files' /proc/1/limits | awk '{print $4, $5}'",
        );
        assert_eq!(out.trim(), want, "PID 1 has them too");
    }
}

fn gid_of(name: &str) -> u32 {
    yodawg::tenant::accounts::lookup(&format!("yd-{name}"))
        .unwrap()
        .unwrap()
        .gid
}

#[test]
fn tenants_come_back_after_kill_9_and_a_scanner_restart() {
    let mut host = Host::new("tenantrecover");
    let name = host.name('d');
    host.mkhome(&name);
    host.start_scanner();
    host.wait_up(&name);
    let pid1 = host.pid1(&name);
    signal(pid1, Signal::SIGKILL);
    wait_for("a new PID 1", 10 * S, || {
        let sup = try_status(&host.service(&name)).map(|s| s.pid).unwrap_or(0);
        sup != 0 && children_of(sup).first().is_some_and(|&p| p != pid1)
    });
    host.wait_up(&name);
    // The process the supervisor watches takes PID 1 with it.
    let pid1 = host.pid1(&name);
    let parent = status(&host.service(&name)).pid;
    signal(parent, Signal::SIGKILL);
    // Gone, or a zombie left for the host's init to reap: either way dead.
    wait_for("PID 1 gone with its parent", 5 * S, || {
        proc_state(pid1).is_none_or(|s| s == 'Z')
    });
    host.wait_up(&name);
    host.stop_scanner();
    assert!(
        is_down(&host.service(&name)),
        "the scanner took the tenant down"
    );
    host.start_scanner();
    host.wait_up(&name);
    let (code, out, _) = host.join(&name, "tr '\\0' ' ' < /proc/1/cmdline");
    assert_eq!(code, 0);
    assert!(out.starts_with("/run/yodawg/bin/yd-svscan"), "{out}");
    // Removing without --purge keeps what the tenant wrote.
    host.stop_scanner();
    let (code, out, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .args(["--remove", &name]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(uid_of(&name).is_none());
    assert!(
        host.root
            .join("state")
            .join(&name)
            .join("home/upper")
            .is_dir(),
        "the state is kept"
    );
    host.names.clear();
}

#[test]
fn the_shipped_runit_service_dir_runs_the_host_scanner() {
    let mut host = Host::new("tenantrunit");
    let name = host.name('r');
    host.mkhome(&name);
    // As an operator would: runsv over ROOT/init/sv, the dir setup installed.
    let sv_dir = host.root.join("init/sv");
    host.sb.spawn(Command::new(peer("runsv")).arg(&sv_dir));
    host.wait_up(&name);
    let (code, out, _) = run(Command::new(peer("sv")).arg("status").arg(&sv_dir));
    assert_eq!(code, 0);
    assert!(out.starts_with("run: "), "{out}");
    let (code, out, err) = run(Command::new(peer("sv"))
        .args(["-w", "30", "down"])
        .arg(&sv_dir));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        is_down(&host.service(&name)),
        "the scanner took the tenant down as it stopped"
    );
    let (code, _, _) = run(Command::new(peer("sv")).arg("exit").arg(&sv_dir));
    assert_eq!(code, 0);
}

#[test]
fn bad_names_and_unknown_tenants_change_nothing() {
    let host = Host::new("tenantbad");
    let long = "a".repeat(200);
    for bad in ["", "../x", "a/b", "-rf", "Upper", "root", &long] {
        let (code, out, err) = run(Command::new(bin("yd-mkhome"))
            .arg("--root")
            .arg(&host.root)
            .arg(bad));
        assert_eq!(code, 100, "{bad:?}: {out}{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("yd-mkhome: fatal: "), "{err}");
    }
    let passwd = read(Path::new("/etc/passwd"));
    for bad in ["", "../x", "a/b", "-rf", "Upper", "root", &long] {
        assert!(
            !passwd.lines().any(|l| l.starts_with(&format!("yd-{bad}:"))),
            "no user made for {bad:?}"
        );
    }
    assert_eq!(
        std::fs::read_dir(host.root.join("tenants"))
            .unwrap()
            .count(),
        0,
        "no tenant dir made"
    );
    let unknown = host.name('z');
    for args in [vec!["--join", &unknown, "--", "true"], vec![&unknown]] {
        let (code, _, err) = run(Command::new(bin("yd-nsenter"))
            .arg("--root")
            .arg(&host.root)
            .args(&args));
        assert_eq!(code, 100, "{args:?}: {err}");
        assert!(err.contains("no such tenant"), "{err}");
    }
    let (code, _, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .args(["--remove", &unknown]));
    assert_eq!(code, 100, "{err}");
    let (code, _, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .arg("daemon"));
    assert_eq!(code, 100, "a system name: {err}");
}

#[test]
fn setup_is_rerunnable_and_keeps_what_the_admin_changed() {
    let host = Host::new("tenantsetup");
    let run_file = host.root.join("template/services/run");
    std::fs::write(
        &run_file,
        "#!/bin/sh\n# the admin's own\nexec yd-svscan .\n",
    )
    .unwrap();
    let (code, out, err) = run(Command::new(bin("yd-mkhome"))
        .arg("--root")
        .arg(&host.root)
        .arg("--setup"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 files installed"), "{out}");
    assert!(read(&run_file).contains("the admin's own"));
    assert!(read(&host.root.join("init/yodawg.service"))
        .contains(&format!("yd-svscan {}/tenants", host.root.display())));
}

#[test]
fn the_demo_runs_a_tenant_with_the_examples_and_stops_cleanly() {
    require_root();
    let sb = Sandbox::new("demo");
    let tenant = format!("t{}demo", std::process::id() % 100_000);
    let bin_dir = bin("yd-svscan").parent().unwrap().to_path_buf();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo.sh");
    let demo = |arg: Option<&str>| {
        let mut cmd = Command::new("sh");
        cmd.arg(&script)
            .args(arg)
            .env("DEMO_DIR", sb.path("demo"))
            .env("BIN", &bin_dir)
            .env("DEMO_TENANT", &tenant);
        run(&mut cmd)
    };
    let (code, out, err) = demo(None);
    let stopped = demo(Some("stop"));
    assert_eq!(code, 0, "{out}{err}");
    let home = home_of(&tenant);
    let up = |rel: &str| format!("{}: up (pid ", home.join(rel).display());
    for line in [
        up("docker"),
        up("services/hello"),
        up("services/hello/parts/ticker"),
        up("services/hello/parts/server"),
        up("services/web"),
        up("services/web/parts/container"),
        up("pipelines/web"),
        format!("I am yd-{tenant}, PID 1 is /run/yodawg/bin/yd-svscan"),
        "container yodawg-web (yodawg/web:".to_string(),
        "hello says: hello, uid ".to_string(),
        "HTTP/1.1 200 OK".to_string(),
        "Hello from a tenant's own web server".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(stopped.0, 0, "{}{}", stopped.1, stopped.2);
    assert!(uid_of(&tenant).is_none(), "demo-stop removes the tenant");
    assert_eq!(mounts_under(&home), 0);
}

#[test]
fn services_are_down_until_enabled_and_each_tenant_chooses() {
    let mut host = Host::new("services");
    // A host service shipped with no marker at all, and one with no valid run.
    let napper = host.root.join("services/napper");
    std::fs::create_dir_all(&napper).unwrap();
    std::fs::write(
        napper.join("run"),
        "#!/bin/sh\necho started >> ./data\nexec sleep 1000\n",
    )
    .unwrap();
    std::fs::set_permissions(&napper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        napper.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir_all(host.root.join("services/broken")).unwrap();
    std::fs::write(host.root.join("services/broken/run"), "not executable\n").unwrap();
    let (a, b) = (host.name('s'), host.name('t'));
    host.mkhome(&a);
    host.mkhome(&b);
    host.start_scanner();
    host.wait_up(&a);
    host.wait_up(&b);
    let in_a = home_of(&a).join("services/napper");
    let in_b = home_of(&b).join("services/napper");
    for svc in [&in_a, &in_b] {
        wait_for("napper supervised, down", 10 * S, || {
            supervised(svc) && is_down(svc)
        });
        assert!(svc.join("down").exists(), "down is the tenant's own marker");
    }
    assert!(
        !napper.join("down").exists(),
        "the host's copy is untouched"
    );

    // a enables it; b does not.
    let (code, _, err) = host.join(&a, "yd-svc -wu -T 5000 -U ~/services/napper");
    assert_eq!(code, 0, "{err}");
    assert!(!in_a.join("down").exists() && in_b.join("down").exists());
    assert!(is_down(&in_b));
    let first = status(&in_a).pid;

    // kill -9 of the component: back. (Up means forked: the shell execs
    // sleep a moment later.)
    wait_for("a's napper asleep", 5 * S, || {
        !pids_named("sleep", uid_of(&a).unwrap()).is_empty()
    });
    let host_pid = pids_named("sleep", uid_of(&a).unwrap());
    assert_eq!(host_pid.len(), 1, "one sleep: a's napper");
    signal(host_pid[0], Signal::SIGKILL);
    wait_new_pid(&in_a, first, 5 * S);

    // A host change to a file the tenant did not replace: seen (at the
    // latest after a restart, which comes next).
    std::fs::write(napper.join("motd"), "from the host\n").unwrap();

    // The enabled set survives a tenant restart.
    svc("-wD -T 20000 -d", &host.service(&a));
    svc("-u", &host.service(&a));
    host.wait_up(&a);
    wait_for("napper up again by itself", 10 * S, || {
        supervised(&in_a) && is_up(&in_a)
    });
    let (_, out, _) = host.join(&a, "cat ~/services/napper/motd");
    assert_eq!(out, "from the host\n");

    // A host service added while tenants run starts nowhere.
    let later = host.root.join("services/later");
    std::fs::create_dir_all(&later).unwrap();
    std::fs::write(later.join("run"), "#!/bin/sh\nexec sleep 1001\n").unwrap();
    std::fs::set_permissions(
        later.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for t in [&a, &b] {
        assert!(
            pids_named("sleep", uid_of(t).unwrap()).len() <= 1,
            "later did not start in {t}"
        );
        assert!(
            !supervised(&home_of(t).join("services/later"))
                || is_down(&home_of(t).join("services/later"))
        );
    }

    // a's override of a host file is a's alone; the host's file is untouched.
    let (code, _, err) = host.join(&a, "rm ~/services/napper/run && printf '#!/bin/sh\\nexec sleep 1002\\n' > ~/services/napper/run && chmod +x ~/services/napper/run && cat ~/services/napper/run");
    assert_eq!(code, 0, "{err}");
    assert!(
        read(&in_b.join("run")).contains("sleep 1000")
            && read(&napper.join("run")).contains("sleep 1000")
    );

    // Disable: the process is gone, the data kept. The broken one never stopped anything.
    let (code, _, err) = host.join(
        &a,
        "yd-svc -wD -T 5000 -D ~/services/napper && cat ~/services/napper/data",
    );
    assert_eq!(code, 0, "{err}");
    assert!(pids_named("sleep", uid_of(&a).unwrap()).is_empty());
    assert!(read(&in_a.join("data")).contains("started"), "data kept");
    assert!(!is_up(&home_of(&a).join("services/broken")));
    assert!(
        supervised(&home_of(&a).join("services")),
        "the sub-scanner runs on"
    );
}

#[test]
fn a_symlink_in_the_home_never_redirects_roots_mounts() {
    let mut host = Host::new("tenantmountlink");
    let name = host.name('q');
    host.mkhome(&name);
    // As if the tenant had turned its ~/libs into a link to a host dir.
    let victim = host.sb.path("victim");
    std::fs::create_dir_all(&victim).unwrap();
    let upper_libs = host.root.join("state").join(&name).join("home/upper/libs");
    let _ = std::fs::remove_dir(&upper_libs);
    std::os::unix::fs::symlink(&victim, &upper_libs).unwrap();
    let (code, _, err) = run(Command::new(bin("yd-nsenter"))
        .arg("--root")
        .arg(&host.root)
        .arg(&name));
    assert_eq!(code, 111, "{err}");
    assert!(err.contains("without following a symlink"), "{err}");
    assert_eq!(
        mounts_under(&victim),
        0,
        "nothing mounted on the link's target"
    );
    assert_eq!(
        mounts_under(&home_of(&name)),
        0,
        "the half-done home was undone"
    );
}
