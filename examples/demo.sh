#!/bin/sh
# The demo behind `make demo`: a yd-svscan over copies of the example
# services, left running, with their status shown. `make demo-stop` ends it.
set -eu
: "${DEMO_DIR:?}" "${BIN:?}"
here=$(cd "$(dirname "$0")" && pwd)
scan=$DEMO_DIR/services
export PATH="$BIN:$PATH"

stop() {
	if [ -e "$DEMO_DIR/scanner.pid" ] && kill -0 "$(cat "$DEMO_DIR/scanner.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$DEMO_DIR/scanner.pid")"
		while kill -0 "$(cat "$DEMO_DIR/scanner.pid")" 2>/dev/null; do sleep 0.1; done
		echo "demo scanner stopped; every service is down"
	fi
	rm -f "$DEMO_DIR/scanner.pid"
}

if [ "${1:-}" = stop ]; then
	stop
	exit 0
fi

stop
rm -rf "$DEMO_DIR"
mkdir -p "$scan"
for svc in greeter counter; do cp -R "$here/$svc" "$scan/$svc"; done
yd-svscan "$scan" </dev/null >"$DEMO_DIR/scanner.out" 2>&1 &
echo $! >"$DEMO_DIR/scanner.pid"

# Wait (up to 10 s) until the greeter is up and ready, then enable the counter.
i=0
until yd-svok "$scan/greeter" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: the scanner did not start the greeter" >&2; exit 1; }
	sleep 0.1
done
yd-svc -wU -T 10000 "$scan/greeter"
echo "== a scanner supervising $scan (pid $(cat "$DEMO_DIR/scanner.pid"))"
yd-svstat "$scan/greeter" "$scan/greeter/log" "$scan/counter"
echo "== enabling the counter: yd-svc -wu -u $scan/counter"
yd-svc -wu -T 10000 -u "$scan/counter"
yd-svstat "$scan/counter"
sleep 2
echo "== the greeter's log ($scan/greeter/log/main/current)"
tail -n 3 "$scan/greeter/log/main/current"
echo "== runit's sv reads the same state: sv status $scan/*"
if command -v sv >/dev/null; then sv status "$scan"/*; fi
echo
echo "Left running. Try: PATH=$BIN:\$PATH; yd-svc -r $scan/greeter; yd-svstat $scan/*"
echo "Stop it all with: make demo-stop"
