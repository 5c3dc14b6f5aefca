#!/usr/bin/env bash
# A single-node Slurm cluster on 127.0.0.1, for trying hydra/launcher=submitit_slurm without a real cluster.
# Config, munge key, spool, logs and the accounting database all live in one state folder; nothing goes
# into /etc and no system service is touched, so it runs in containers without systemd.
set -euo pipefail

usage() {
  echo "usage: $0 up [--no-accounting] | down | status | install" >&2
  echo "  state folder: \$SLURM_LOCAL_DIR (default /tmp/d2lab-slurm); ports: \$SLURM_LOCAL_PORT (6817-6819)," >&2
  echo "  \$SLURM_LOCAL_DB_PORT (3307); \$SLURM_LOCAL_EXTRA_CONF: lines added to slurm.conf." >&2
  echo "  up and down take a lock, so a second up waits for the first and then finds the cluster up." >&2
  echo "  Needs root (apt-get, SlurmUser=root)." >&2
  exit 2
}

DIR=${SLURM_LOCAL_DIR:-/tmp/d2lab-slurm}
PORT=${SLURM_LOCAL_PORT:-6817}      # slurmctld; slurmd and slurmdbd take the next two
DB_PORT=${SLURM_LOCAL_DB_PORT:-3307} # not 3306, so a system MariaDB keeps its port
CLUSTER=d2lab
PARTITION=debug
NODE=$(hostname -s)
# NoInAddrAny binds the daemons (and srun) to the address the hostname resolves to, which keeps the cluster off
# the network where that is 127.0.0.1. Elsewhere (127.0.1.1 on many Debian and Ubuntu desktops, where srun's
# connections come from 127.0.0.1 and its own replies would be refused) they listen on every interface, as
# Slurm does by default; munge still authenticates every message.
if [[ $(getent ahostsv4 "$NODE" 2>/dev/null | awk 'NR == 1 { print $1 }') == 127.0.0.1 ]]; then
  BIND="CommunicationParameters=NoCtldInAddrAny,NoInAddrAny"
else
  BIND="# $NODE does not resolve to 127.0.0.1, so the daemons listen on every interface"
fi
export SLURM_CONF=$DIR/etc/slurm.conf  # every Slurm command and daemon below reads this, not /etc/slurm
SOCK=$DIR/run/munge.sock              # our own munged, so a system munge (if any) is left alone
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)  # start order; down goes backwards
PACKAGES=(slurm-wlm munge)
ACCOUNTING_PACKAGES=(slurmdbd mariadb-server-core mariadb-client-core)
LOCK=$DIR.lock      # beside the state folder, so `rm -rf $DIR` while down leaves it alone
APT_LOCK_WAIT=${SLURM_LOCAL_APT_LOCK_WAIT:-600}  # seconds apt-get waits for another apt or dpkg to finish

say() { printf '%s\n' "$*"; }
die() { printf 'slurm_local: %s\n' "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }'; }

# A zombie counts as gone: it has exited, only nobody has reaped it yet.
alive() { [[ $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) =~ ^[^Z]$ ]]; }

# The PID we recorded for a daemon, if that process is still alive and still that daemon (PIDs get reused).
live_pid() {
  local f=$DIR/pids/$1 pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$1" ]] && alive "$pid" && echo "$pid"
}

any_exists() { local p; for p; do [[ -e /proc/$p ]] && return 0; done; return 1; }
recorded() { local n; for n in "${DAEMONS[@]}"; do [[ -e $DIR/pids/$n ]] && echo "$n"; done; return 0; }

# up: every recorded daemon alive; partial: some died; down: none recorded.
cluster_state() {
  local n any=0 dead=0
  for n in $(recorded); do any=1; live_pid "$n" >/dev/null || dead=1; done
  if ((any == 0)); then echo down; elif ((dead)); then echo partial; else echo up; fi
}

# setsid: the daemons leave our session, so Ctrl-C or closing the terminal doesn't reach them.
# It execs in place (we are not a group leader), so $! is the daemon's own PID.
STARTED=()  # the daemons this `up` started: a failed `up` stops each of them
start() {
  local name=$1; shift
  setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 9>&- &  # 9>&-: a daemon must not hold our lock
  echo $! >"$DIR/pids/$name"
  STARTED+=("$name")
}

# Poll until a command succeeds; give up early, with the daemon's log, if the daemon has died.
wait_for() {
  local name=$1 secs=$2 t0=$SECONDS; shift 2
  until "$@" >/dev/null 2>&1; do
    # alive, not live_pid: for a moment after the fork the process is still bash, not yet the daemon.
    if ! alive "$(<"$DIR/pids/$name")"; then
      tail -n 20 "$DIR/log/$name".log "$DIR/log/$name".out >&2 2>/dev/null || true
      die "$name exited during start-up (logs in $DIR/log)"
    fi
    ((SECONDS - t0 < secs)) || die "$name not ready after $secs s (logs in $DIR/log)"
    sleep 0.2
  done
}

# apt-get that waits for another apt-get or dpkg (unattended upgrades, a second install) instead of failing on
# their lock, and says so. DPkg::Lock::Timeout covers dpkg's lock; the package lists' lock (apt-get update) does
# not wait by itself, so that one is retried here.
apt_get() {
  local log pid rc said=0 t0=$SECONDS
  log=$(mktemp)
  while :; do
    # 9>&-: a service that a package's scripts may start must not hold our lock
    DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" >"$log" 2>&1 9>&- &
    pid=$!
    # A background job of a script ignores Ctrl-C: let apt-get and dpkg finish, holding our lock, then stop.
    trap 'say "interrupted: waiting for apt-get to finish"; wait "$pid"; exit 130' INT TERM
    while kill -0 "$pid" 2>/dev/null; do
      if ((!said)) && grep -q "Waiting for cache lock" "$log"; then
        say "apt-get $1: waiting for another package manager to release dpkg's lock"
        said=1
      fi
      sleep 0.5
    done
    rc=0
    wait "$pid" || rc=$?
    trap - INT TERM
    if ((rc)) && grep -q "Could not get lock" "$log" && ((SECONDS - t0 < APT_LOCK_WAIT)); then
      ((said)) || say "apt-get $1: waiting for another package manager to release its lock"
      said=1
      sleep 2
      continue
    fi
    ((rc == 0)) || tail -n 20 "$log" >&2
    rm -f "$log"
    return "$rc"
  done
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
  done
  return 0
}

# The package lists are updated only when something is missing: an installed cluster starts offline.
install_packages() {
  local missing t0=$EPOCHREALTIME
  mapfile -t missing < <(missing_packages "$@")
  if ((${#missing[@]})); then
    say "installing ${missing[*]} ..."
    apt_get update
  fi
  # policy-rc.d or not, we never use the system services these packages may register.
  apt_get install -y --no-install-recommends "$@"
  ((${#missing[@]} == 0)) || say "installed in $(since "$t0")"
}

ensure_packages() {
  [[ -z $(missing_packages "$@") ]] || install_packages "$@"
}

write_config() {
  local acct=$1 cpus mem
  mkdir -p "$DIR"/{etc,run,pids,log,spool/ctld,spool/d}
  [[ -s $DIR/etc/munge.key ]] || mungekey --create --keyfile="$DIR/etc/munge.key"
  cpus=$(nproc)
  mem=$(awk '/^MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)  # a margin, or slurmd drains the node
  cat >"$SLURM_CONF" <<EOF
# Written by scripts/slurm_local.sh up; rewritten on every start.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
$BIND
AuthType=auth/munge
CredType=cred/munge
# cred_expire=5: a requeued job may start again after 5 s instead of 120.
AuthInfo=socket=$SOCK,cred_expire=5
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
# No cgroups: works in containers and without systemd.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
# CPUs are the only consumable, so a sweep runs one job per free CPU.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Schedule at once, not every 30-60 s.
SchedulerParameters=batch_sched_delay=0,sched_interval=2,bf_interval=1
ReturnToService=2
KillWait=5
# Job ids from the clock: with a wiped state folder they would start at 1 again, and submitit's %j folders
# from before would hand back stale results.
FirstJobId=$(($(date +%s) % 60000000 + 1000))
EOF
  if [[ $acct == yes ]]; then
    cat >>"$SLURM_CONF" <<EOF
# sacct (which submitit polls) needs slurmdbd; without it a job that dies early is waited on forever.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$((PORT + 2))
# For slurmdbd connections the munge socket is read from here, not from AuthInfo.
AccountingStoragePass=$SOCK
JobAcctGatherType=jobacct_gather/linux
EOF
    write_dbd_config
  else
    echo "AccountingStorageType=accounting_storage/none" >>"$SLURM_CONF"
  fi
  cat >>"$SLURM_CONF" <<EOF
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if [[ -n ${SLURM_LOCAL_EXTRA_CONF:-} ]]; then
    printf '# From $SLURM_LOCAL_EXTRA_CONF:\n%s\n' "$SLURM_LOCAL_EXTRA_CONF" >>"$SLURM_CONF"
  fi
}

# slurmdbd finds slurmdbd.conf next to $SLURM_CONF; it must be 0600 since it holds the database password.
write_dbd_config() {
  DB_PASS=$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
  (
    umask 077
    cat >"$DIR/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCK
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$((PORT + 2))
$BIND
SlurmUser=root
PidFile=$DIR/run/slurmdbd.pid
LogFile=$DIR/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
  )
}

node_idle() { [[ $(sinfo -h -N -o %t) == idle ]]; }
sql() { mariadb --no-defaults --socket="$DIR/run/mysql.sock" -u root "$@"; }

start_accounting() {
  local db=$DIR/mysql t0=$EPOCHREALTIME
  if [[ ! -d $db/mysql ]]; then
    mariadb-install-db --no-defaults --user=root --datadir="$db" --skip-test-db >"$DIR/log/mariadbd.install" 2>&1 ||
      { tail -n 20 "$DIR/log/mariadbd.install" >&2; die "mariadb-install-db failed"; }
  fi
  # --no-defaults: none of /etc/mysql; root logs in through the socket only, slurmdbd by password over TCP.
  start mariadbd mariadbd --no-defaults --user=root --datadir="$db" --socket="$DIR/run/mysql.sock" \
    --pid-file="$DIR/run/mariadbd.pid" --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
    --log-error="$DIR/log/mariadbd.log" --innodb-lock-wait-timeout=900 --innodb-log-file-size=64M
  wait_for mariadbd 60 sql -e 'SELECT 1'
  sql -e "CREATE OR REPLACE USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  start slurmdbd slurmdbd -D
  wait_for slurmdbd 60 sacctmgr -n list cluster
  say "accounting (MariaDB + slurmdbd) up in $(since "$t0")"
}

info() {
  local acct=no
  live_pid slurmdbd >/dev/null && acct="yes (sacct works)"
  sinfo -h -o '%P %D %c %m %t' | while read -r part nodes cpus mem state; do
    say "Slurm is up: partition ${part%\*} (default), $nodes node ($NODE), $cpus CPUs, $mem MB, $state;" \
      "accounting: $acct"
  done
  [[ $BIND == CommunicationParameters=* ]] || say "  (on every interface: $NODE does not resolve to 127.0.0.1)"
  say "  export SLURM_CONF=$SLURM_CONF     # then sbatch, srun, squeue, sacct, scancel work"
  say "  python -m d2lab.train -m hydra/launcher=slurm_cpu data=airfoil optimizer.lr=0.01,0.1   # docs/slurm.md"
  say "  $0 down                           # stop it (logs: $DIR/log)"
}

up() {
  local acct=yes running t0
  case ${1:-} in "") ;; --no-accounting) acct=no ;; --accounting) ;; *) usage ;; esac
  case $(cluster_state) in
    up)
      say "already up (state folder $DIR)"
      live_pid slurmdbd >/dev/null && running=yes || running=no
      [[ $running == "$acct" ]] || say "(accounting is $running; run $0 down first to change that)"
      info
      return
      ;;
    partial) say "some daemons died; stopping the rest and starting again"; stop_all ;;
  esac
  local pkgs=("${PACKAGES[@]}") ports=("$PORT" $((PORT + 1))) p
  if [[ $acct == yes ]]; then
    pkgs+=("${ACCOUNTING_PACKAGES[@]}")
    ports+=($((PORT + 2)) "$DB_PORT")
  fi
  # A taken port would only show as a daemon dying with a bind error deep in its log.
  for p in "${ports[@]}"; do
    if (: </dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
      die "port $p is taken (another cluster, or a state folder deleted while up?);" \
        "set SLURM_LOCAL_PORT or SLURM_LOCAL_DB_PORT"
    fi
  done
  ensure_packages "${pkgs[@]}"
  # If start-up fails half way, stop every daemon this `up` started, so nothing is left behind.
  trap stop_started EXIT
  write_config "$acct"
  t0=$EPOCHREALTIME
  start munged munged -F --key-file="$DIR/etc/munge.key" --socket="$SOCK" --pid-file="$DIR/run/munged.pid" \
    --seed-file="$DIR/run/munged.seed"  # -F logs to stderr, i.e. log/munged.out
  wait_for munged 20 test -S "$SOCK"
  [[ $acct == yes ]] && start_accounting
  start slurmctld slurmctld -D
  wait_for slurmctld 60 sinfo
  start slurmd slurmd -D -N "$NODE"
  wait_for slurmd 60 node_idle
  trap - EXIT
  say "started in $(since "$t0")"
  info
}

stop_started() {
  ((${#STARTED[@]})) || return 0
  say "start-up failed: stopping the daemons it started (${STARTED[*]})" >&2
  stop_all "${STARTED[@]}" >&2
}

# Stop the named daemons (all of them by default), newest first, by their recorded PIDs.
stop_all() {
  local names=("${@:-${DAEMONS[@]}}")
  local n pid i t jobs=() gone=()
  # Cancel every job first, so Slurm ends their steps instead of leaving them running without slurmd.
  if live_pid slurmctld >/dev/null && live_pid slurmd >/dev/null; then
    mapfile -t jobs < <(squeue -h -o %A 2>/dev/null)
    if ((${#jobs[@]})); then
      say "cancelling ${#jobs[@]} job(s)"
      scancel "${jobs[@]}" 2>/dev/null || true
      for ((i = 0; i < 60; i++)); do [[ -z $(squeue -h -o %A 2>/dev/null) ]] && break; sleep 0.5; done
    fi
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    n=${DAEMONS[i]}
    [[ " ${names[*]} " == *" $n "* ]] || continue
    if pid=$(live_pid "$n"); then
      kill -TERM "$pid" 2>/dev/null || true  # it may have exited since live_pid looked
      for ((t = 0; t < 100; t++)); do live_pid "$n" >/dev/null || break; sleep 0.2; done
      if live_pid "$n" >/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
        say "$n (pid $pid) killed"
      else
        say "$n (pid $pid) stopped"
      fi
      gone+=("$pid")
    fi
    rm -f "$DIR/pids/$n"
  done
  # Give init a moment to reap them, so that ps right after `down` is clean.
  for ((t = 0; t < 25; t++)); do any_exists "${gone[@]}" || break; sleep 0.2; done
}

down() {
  (($# == 0)) || usage
  [[ $(cluster_state) == down ]] && { say "not running (nothing recorded in $DIR/pids)"; return; }
  stop_all
  say "down; state, logs and the accounting database stay in $DIR (rm -rf it to start afresh)"
}

status() {
  (($# == 0)) || usage
  local n pid s
  s=$(cluster_state)
  for n in $(recorded); do
    if pid=$(live_pid "$n"); then say "  $n: running, pid $pid"; else say "  $n: not running"; fi
  done
  case $s in
    up) info ;;
    partial) say "partly up: run $0 down, then up"; return 1 ;;
    down) say "down"; return 1 ;;
  esac
}

install() {
  (($# == 0)) || usage
  install_packages "${PACKAGES[@]}" "${ACCOUNTING_PACKAGES[@]}"
  say "installed: ${PACKAGES[*]} ${ACCOUNTING_PACKAGES[*]}"
}

# One `up` or `down` at a time: a second one waits here, then sees what the first left (up: "already up").
take_lock() {
  mkdir -p "$(dirname "$LOCK")"
  exec 9>>"$LOCK"
  if ! flock -n 9; then
    say "another $0 up or down holds $LOCK; waiting for it"
    flock -w 900 9 || die "still locked after 900 s: $LOCK"
  fi
}

case ${1:-} in up | down | status | install) ;; *) usage ;; esac
[[ $EUID == 0 ]] || die "needs root (apt-get, and slurmd runs as root): sudo $0 $*"
cmd=$1; shift
[[ $cmd == status ]] || take_lock
"$cmd" "$@"
