//! Rootless Docker in tenants, as root: real dockerd, containerd,
//! rootlesskit and slirp4netns from Debian, an image built here with
//! `docker import` of busybox-static (no registry is reachable).

use crate::common::*;
use crate::tenant::{home_of, processes_of, uid_of, Host};
use nix::sys::signal::Signal;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// Wait until the tenant's Docker answers (its service up and ready).
fn docker_ready(host: &Host, name: &str) {
    let docker = home_of(name).join("docker");
    wait_for(&format!("{name}'s docker ready"), 60 * S, || {
        supervised(&docker) && try_status(&docker).is_some_and(|s| s.ready.is_some())
    });
    let (code, out, err) = host.join(name, "docker version --format '{{.Server.Version}}'");
    assert_eq!(code, 0, "docker answers once ready: {out}{err}");
}

/// Build the image `bb` inside the tenant from the host's busybox-static.
fn import_busybox(host: &Host, name: &str) {
    let script = "set -e; r=$(mktemp -d); mkdir -p $r/bin; cp /bin/busybox $r/bin/; \
                  for a in sh sleep id cat echo ls; do ln -s busybox $r/bin/$a; done; \
                  tar -C $r -cf - . | docker import - bb >/dev/null; rm -rf $r";
    let (code, out, err) = host.join(name, script);
    assert_eq!(code, 0, "docker import: {out}{err}");
}

fn range(name: &str) -> (u64, u64) {
    yodawg::tenant::accounts::range_of(&format!("yd-{name}"))
        .unwrap()
        .unwrap()
}

#[test]
fn each_tenant_has_its_own_docker() {
    let mut host = Host::with_docker("dockeriso");
    let (a, b) = (host.name('k'), host.name('l'));
    host.mkhome(&a);
    host.mkhome(&b);
    host.start_scanner();
    docker_ready(&host, &a);
    docker_ready(&host, &b);
    import_busybox(&host, &a);
    let (code, _, err) = host.join(&a, "docker run -d --name web --restart always bb sleep 1000 && docker run -d -u 1000 --name other bb sleep 1001");
    assert_eq!(code, 0, "{err}");

    // From the host: the container's root is a's uid; its uid 1000 is in a's range.
    let (uid_a, (start_a, count_a)) = (uid_of(&a).unwrap(), range(&a));
    wait_for("the container's sleep on the host", 10 * S, || {
        !pids_named("sleep", uid_a).is_empty()
    });
    let mapped = start_a as u32 + 999;
    wait_for("uid 1000 mapped into a's range", 10 * S, || {
        !pids_named("sleep", mapped).is_empty()
    });
    let (start_b, count_b) = range(&b);
    assert!(
        (start_a..start_a + count_a).contains(&(mapped as u64))
            && !(start_b..start_b + count_b).contains(&(mapped as u64))
    );

    // b sees none of a's images or containers, and cannot reach a's socket nor the host's.
    let (_, out, _) = host.join(
        &b,
        "docker images --format '{{.Repository}}'; docker ps -a --format '{{.Names}}'",
    );
    assert_eq!(out, "", "b's docker is its own");
    let probe = format!("ls /run/user/{uid_a} 2>&1; docker -H unix:///run/user/{uid_a}/docker.sock ps 2>&1 | head -1; ls /var/run/docker.sock /run/docker.sock 2>&1");
    let (_, out, _) = host.join(&b, &probe);
    assert!(
        out.matches("No such file").count() >= 3,
        "a's runtime dir and any host socket are out of reach: {out}"
    );
    let (_, out, _) = host.join(&a, "docker ps --format '{{.Names}}' | sort | tr '\\n' ' '");
    assert_eq!(out.trim(), "other web");
}

#[test]
fn docker_comes_back_after_kill_9_with_its_containers_and_data() {
    let mut host = Host::with_docker("dockerkill");
    let name = host.name('m');
    host.mkhome(&name);
    host.start_scanner();
    docker_ready(&host, &name);
    import_busybox(&host, &name);
    let (code, _, err) = host.join(
        &name,
        "docker run -d --name web --restart always bb sleep 1000",
    );
    assert_eq!(code, 0, "{err}");
    let uid = uid_of(&name).unwrap();
    for victim in ["dockerd", "containerd", "rootlesskit"] {
        let pids = pids_named(victim, uid);
        assert!(!pids.is_empty(), "{victim} runs as the tenant");
        for p in &pids {
            signal(*p, Signal::SIGKILL);
        }
        wait_for(&format!("{victim} back"), 60 * S, || {
            pids_named(victim, uid).iter().any(|p| !pids.contains(p))
        });
        docker_ready(&host, &name);
        wait_for("the restart-policy container back", 60 * S, || {
            host.join(
                &name,
                "docker ps --filter name=web --filter status=running -q",
            )
            .1
            .trim()
            .len()
                > 4
        });
    }
    // Images persist across a tenant restart, in the tenant's state.
    let service = host.service(&name);
    svc("-wD -T 60000 -d", &service);
    for p in [
        "rootlesskit",
        "slirp4netns",
        "dockerd",
        "containerd",
        "sleep",
    ] {
        assert!(
            pids_named(p, uid).is_empty(),
            "{p} left after the tenant stopped"
        );
    }
    assert_eq!(processes_of(uid), 0);
    assert!(
        host.root
            .join("state")
            .join(&name)
            .join("docker/image")
            .is_dir(),
        "Docker's data is in the state dir"
    );
    svc("-u", &service);
    docker_ready(&host, &name);
    let (_, out, _) = host.join(&name, "docker images --format '{{.Repository}}'");
    assert_eq!(out, "bb\n");
    let (_, out, _) = host.join(&name, "findmnt -no FSTYPE /var/lib/docker");
    assert_ne!(out.trim(), "overlay", "not on the overlay home");
}

#[test]
fn a_tenant_without_docker_runs_no_docker_process() {
    let mut host = Host::with_docker("dockeroff");
    let name = host.name('n');
    host.mkhome(&name);
    // The tenant's own config layer turns it off.
    let cfg = host
        .root
        .join("state")
        .join(&name)
        .join("home/upper/config");
    std::fs::write(cfg.join("docker.enabled"), "no\n").unwrap();
    host.start_scanner();
    host.wait_up(&name);
    let docker = home_of(&name).join("docker");
    wait_for("docker down for good", 10 * S, || {
        try_status(&docker).is_some_and(|s| {
            s.state == yodawg::status::RunState::Down && s.want == yodawg::status::Want::Down
        })
    });
    let (_, line, _) = run(std::process::Command::new(bin("yd-svstat")).arg(&docker));
    assert!(
        line.contains(": down ") && line.contains("last exit 125"),
        "{line}"
    );
    let uid = uid_of(&name).unwrap();
    for p in ["rootlesskit", "dockerd", "containerd", "slirp4netns"] {
        assert!(
            pids_named(p, uid).is_empty(),
            "{p} runs while Docker is off"
        );
    }
    // On again: the tenant's config, then up.
    let (code, _, err) = host.join(
        &name,
        ". ~/libs/yd-config.sh && config_set docker.enabled yes && yd-svc -u ~/docker",
    );
    assert_eq!(code, 0, "{err}");
    docker_ready(&host, &name);
}
