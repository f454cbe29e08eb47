#!/usr/bin/env bash
# Starts and stops a throwaway, single-node Ceph RADOS Gateway: a real S3-compatible server on
# 127.0.0.1 for the test suite and for trying `diplomatie publish --store s3://…` locally.
# One monitor, one OSD on memstore (data in RAM), radosgw with the beast frontend; no manager, no
# systemd. Ceph's internal auth is off (loopback only), but radosgw still verifies every S3 signature.
#
#   eval "$(bash tools/s3-server.sh start)"   # start fresh; stdout is only `export` lines
#   bash tools/s3-server.sh env                # the `export` lines of the running server again
#   bash tools/s3-server.sh status             # exit 0 when it answers
#   bash tools/s3-server.sh stop               # stop the daemons by PID, delete the data dir
#
# Environment (all optional): S3_RGW_DIR (data dir, wiped on start; default $TMPDIR/diplomatie-s3),
# S3_RGW_PORT (S3 port, 47480), S3_RGW_MON_PORT (43300), S3_RGW_OSD_PORTS (46800-46899),
# S3_RGW_MEM_GB (memstore size, 2), S3_ACCESS_KEY / S3_SECRET_KEY (random by default),
# S3_RGW_TIMEOUT (seconds per daemon, 120), S3_RGW_KEEP=1 (stop keeps the data dir and its logs).
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common (tools/install-system-packages.sh).
set -euo pipefail

DIR=${S3_RGW_DIR:-${TMPDIR:-/tmp}/diplomatie-s3}
PORT=${S3_RGW_PORT:-47480}
MON_PORT=${S3_RGW_MON_PORT:-43300}
OSD_PORTS=${S3_RGW_OSD_PORTS:-46800-46899}
MEM_GB=${S3_RGW_MEM_GB:-2}
TIMEOUT=${S3_RGW_TIMEOUT:-120}
MARKER=.diplomatie-s3-server  # only a dir holding this file is ever wiped
CONF=$DIR/ceph.conf

log() { printf '[s3-server %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  log "ERROR: $*"
  for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "--- tail $f" >&2; tail -n 15 "$f" >&2; }; done
  stop_daemons
  exit 1
}

require_binaries() {
  local b
  for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph; do
    command -v "$b" >/dev/null 2>&1 || { log "$b not found: run tools/install-system-packages.sh"; exit 1; }
  done
}

# GET / answers 200 (anonymous ListAllMyBuckets); bash only, no curl needed
http_ok() {
  ( exec 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 3 line <&3 || exit 1
    [[ $line == HTTP/1.[01]\ 200* ]] ) 2>/dev/null
}
port_in_use() { ( exec 3<>"/dev/tcp/127.0.0.1/$1" ) 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
cephc() { timeout 30 ceph -c "$CONF" --connect-timeout 10 "$@"; }
mon_up() { cephc mon stat; }
osd_up() { cephc osd dump 2>/dev/null | grep -q '^osd\.0 up'; }

# wait_for PIDFILE WHAT COMMAND...: poll every 0.25 s; give up early when the daemon died
wait_for() {
  local pidfile=$1 what=$2 start=$SECONDS
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ -f "$pidfile" ]; then
      kill -0 "$(cat "$pidfile")" 2>/dev/null || die "$what: the daemon died (see the logs above)"
    elif [ $((SECONDS - start)) -ge 15 ]; then
      die "$what: the daemon is not running (no $pidfile)"
    fi
    [ $((SECONDS - start)) -lt "$TIMEOUT" ] || die "timed out after ${TIMEOUT}s waiting for $what"
    sleep 0.25
  done
}

# term_wait PIDFILE:COMM...: SIGTERM each daemon we started, wait up to 10 s, then SIGKILL
term_wait() {
  local f p i comm pids=()
  for f in "$@"; do
    comm=${f##*:}
    f=${f%:*}
    [ -f "$f" ] || continue
    p=$(cat "$f")
    rm -f "$f"
    # signal the PID only while it is still the daemon we started (PIDs get reused)
    if [ "$(cat "/proc/$p/comm" 2>/dev/null)" = "$comm" ]; then
      kill -TERM "$p" 2>/dev/null || true
      pids+=("$p")
    fi
  done
  for p in "${pids[@]}"; do
    for i in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; log "pid $p needed SIGKILL"; fi
  done
}

# one at a time, radosgw first: radosgw hangs on SIGTERM once the OSD is gone
stop_daemons() {
  term_wait "$DIR/run/client.rgw.a.pid:radosgw"
  term_wait "$DIR/run/osd.0.pid:ceph-osd"
  term_wait "$DIR/run/mon.a.pid:ceph-mon"
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind port min = ${OSD_PORTS%-*}
ms bind port max = ${OSD_PORTS#*-}
# no cephx on loopback; radosgw still checks S3 signatures. crc mode lets radosgw reach the monitor.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = $DIR/run
crash dir = $DIR/crash
log file = $DIR/log/\$name.log
pid file = $DIR/run/\$name.pid
# one OSD, no manager: size-1 pools with a fixed, small number of placement groups
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
# commit map changes every 0.1 s instead of 1 s: start-up goes from ~12 s to ~2 s
paxos propose interval = 0.1
mon data avail crit = 1
mon data avail warn = 2
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
[mon]
mon data = $DIR/mon.\$id
admin socket = $DIR/run/\$name.asok
[osd]
osd data = $DIR/osd.\$id
osd objectstore = memstore
memstore device bytes = $((MEM_GB * 1024 * 1024 * 1024))
admin socket = $DIR/run/\$name.asok
[client.rgw.a]
rgw data = $DIR/rgw
# tcp_nodelay: small GETs take ~1.6 ms instead of ~44 ms
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
# free the RADOS tails of deleted objects after ~1 min instead of 2 h (the data lives in RAM)
rgw gc obj min wait = 60
rgw gc processor period = 30
admin socket = $DIR/run/\$name.asok
EOF
}

start() {
  local t0=$SECONDS fsid uuid id ak sk p
  require_binaries
  if [ -e "$DIR" ]; then
    if [ -f "$DIR/$MARKER" ]; then
      stop_daemons
      rm -rf "$DIR"
    elif [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
      log "$DIR exists and was not made by this script; refusing to wipe it (set S3_RGW_DIR)"
      exit 1
    fi
  fi
  for p in "$PORT" "$MON_PORT"; do
    ! port_in_use "$p" || { log "127.0.0.1:$p is already in use (set S3_RGW_PORT / S3_RGW_MON_PORT)"; exit 1; }
  done
  mkdir -p "$DIR"/{run,log,crash,mon.a,osd.0,rgw}
  touch "$DIR/$MARKER"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  ak=${S3_ACCESS_KEY:-$(tr -dc 'A-Z0-9' </dev/urandom | head -c 20 || true)}
  sk=${S3_SECRET_KEY:-$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40 || true)}
  write_conf "$fsid"

  log "starting ceph-mon on 127.0.0.1:$MON_PORT"
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" || die "ceph-mon --mkfs failed"
  ceph-mon -c "$CONF" -i a || die "ceph-mon failed to start"
  wait_for "$DIR/run/mon.a.pid" "ceph-mon" mon_up

  log "starting ceph-osd (memstore, ${MEM_GB} GiB)"
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(cephc osd new "$uuid") || die "ceph osd new failed"
  [ "$id" = 0 ] || die "unexpected OSD id '$id'"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >"$DIR/log/osd-mkfs.out" 2>&1 || die "ceph-osd --mkfs failed"
  ceph-osd -c "$CONF" -i 0 2>>"$DIR/log/osd-start.out" || die "ceph-osd failed to start"
  wait_for "$DIR/run/osd.0.pid" "osd.0 up" osd_up

  log "starting radosgw on http://127.0.0.1:$PORT"
  radosgw -c "$CONF" -n client.rgw.a || die "radosgw failed to start"
  wait_for "$DIR/run/client.rgw.a.pid" "radosgw HTTP" http_ok
  timeout 60 radosgw-admin -c "$CONF" user create --uid=diplomatie --display-name="Diplomatie test user" \
    --access-key="$ak" --secret-key="$sk" >"$DIR/user.json" || die "radosgw-admin user create failed"

  printf 'export %s=%q\n' S3_ENDPOINT_URL "http://127.0.0.1:$PORT" AWS_ENDPOINT_URL_S3 "http://127.0.0.1:$PORT" \
    AWS_ACCESS_KEY_ID "$ak" AWS_SECRET_ACCESS_KEY "$sk" AWS_DEFAULT_REGION us-east-1 >"$DIR/env"
  log "S3 ready at http://127.0.0.1:$PORT after $((SECONDS - t0)) s; stop: S3_RGW_DIR=$DIR bash $0 stop"
  cat "$DIR/env"
}

case "${1:-start}" in
  start) start ;;
  stop)
    stop_daemons
    if [ "${S3_RGW_KEEP:-0}" != 1 ] && [ -f "$DIR/$MARKER" ]; then rm -rf "$DIR"; fi
    ;;
  env) cat "$DIR/env" ;;
  status) http_ok && pid_alive "$DIR/run/client.rgw.a.pid" && pid_alive "$DIR/run/osd.0.pid" && pid_alive "$DIR/run/mon.a.pid" ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
