# yodawg: the two set-up commands are `make demo` and `make test`.
# Both install what they need (Debian packages) and build what they run.

PREFIX   ?= /usr/local
CARGO    ?= cargo
PROGRAMS := yd-supervise yd-svscan yd-svc yd-svstat yd-svok yd-log yd-envdir yd-pipe
# Test and benchmark peers (runit, daemontools, s6, socat), what tests use, and
# each tenant's rootless Docker stack.
DEBS     := runit daemontools s6 util-linux procps dash busybox-static uidmap \
            socat docker.io rootlesskit slirp4netns iptables
DEMO_DIR ?= /tmp/yodawg-demo

.PHONY: all build deps test demo demo-stop bench install clean

all: build

build:
	$(CARGO) build --release --locked

# Install the Debian packages the tests and benchmarks need, if missing.
# A policy-rc.d keeps the packages from starting their services (a root
# dockerd, runsvdir) while they install: tenants run their own.
deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		guard=; if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; guard=1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; rc=$$?; \
		[ -z "$$guard" ] || rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

# Every test: unit tests, then integration tests as root against real
# processes, namespaces and the peer tools.
test: deps
	$(CARGO) test --locked

# The main job on a default local setup (as root): a host scanner over a demo
# tenant that enables the shipped services (web: a container reached through a pipeline), the tree shown. `make demo-stop`
# takes it all down and removes the tenant.
demo: deps build
	@DEMO_DIR=$(DEMO_DIR) BIN=$(CURDIR)/target/release sh examples/demo.sh

demo-stop:
	@DEMO_DIR=$(DEMO_DIR) BIN=$(CURDIR)/target/release sh examples/demo.sh stop

# Speed and memory against runsv/runsvdir, s6-supervise/s6-svscan, s6-log, svlogd, socat.
bench: deps build
	python3 bench/bench.py --bin $(CURDIR)/target/release

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8
	for p in $(PROGRAMS); do install -m 755 target/release/$$p $(DESTDIR)$(PREFIX)/bin/; done
	install -m 644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/lib/yodawg
	install -m 644 lib/sh/yd-config.sh $(DESTDIR)$(PREFIX)/lib/yodawg/

clean:
	$(CARGO) clean
