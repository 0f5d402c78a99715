#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's slurm-wlm and munge, for `peftlab sweep --executor slurm`
# tests and demos.
#
#   scripts/slurm-local.sh start    # munged, slurmctld, slurmd (as root); state under $PEFTLAB_SLURM_DIR
#   scripts/slurm-local.sh stop     # stops all three and removes the state folder
#   scripts/slurm-local.sh status   # exit 0 when the node answers
#
# State lives in ${PEFTLAB_SLURM_DIR:-${TMPDIR:-/tmp}/peftlab-slurm-local}: slurm.conf, a fresh munge key, sockets,
# pid files, spool and logs. Client commands find the cluster through SLURM_CONF=<state>/slurm.conf (printed by
# `start`); where /etc/slurm/slurm.conf does not exist, `start` also links it there (and `stop` removes that link), so
# plain `sbatch`, `squeue` and `npx peftlab sweep run … --executor slurm` work without it.
# The node is this machine with its real CPUs and memory (`slurmd -C`); ProctrackType=proctrack/linuxproc,
# TaskPlugin=task/none and SelectType=select/cons_tres work without cgroups (containers, CI).
set -euo pipefail

DIR="${PEFTLAB_SLURM_DIR:-${TMPDIR:-/tmp}/peftlab-slurm-local}"
ETC_LINK=/etc/slurm/slurm.conf
MARK="# written by peftlab scripts/slurm-local.sh"

die() {
  echo "slurm-local: $*" >&2
  exit 1
}

need() {
  for b in "$@"; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
      die "missing $b: install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)"
  done
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

stop_pidfile() {
  local f="$1" i
  pid_alive "$f" || return 0
  kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true
  for i in $(seq 1 50); do
    pid_alive "$f" || return 0
    sleep 0.1
  done
  kill -9 "$(cat "$f" 2>/dev/null)" 2>/dev/null || true
}

cmd_stop() {
  if [ -d "$DIR" ]; then
    # Jobs still running on the node end with it (their processes are children of slurmstepd).
    SLURM_CONF="$DIR/slurm.conf" scancel --full --quiet --user root 2>/dev/null || true
    stop_pidfile "$DIR/slurmd.pid"
    stop_pidfile "$DIR/slurmctld.pid"
    stop_pidfile "$DIR/munged.pid"
  fi
  if [ -L "$ETC_LINK" ] && [ "$(readlink "$ETC_LINK")" = "$DIR/slurm.conf" ]; then rm -f "$ETC_LINK"; fi
  rm -rf "$DIR"
  echo "slurm-local: stopped"
}

cmd_status() {
  [ -f "$DIR/slurm.conf" ] || die "not started ($DIR/slurm.conf missing)"
  SLURM_CONF="$DIR/slurm.conf" sinfo -h -o "%n %t %c %m" 2>/dev/null | grep -Eq " (idle|mix|alloc)" ||
    die "the node does not answer (see $DIR/*.log)"
  SLURM_CONF="$DIR/slurm.conf" sinfo -h -o "node %n: %t, %c CPUs, %m MB"
}

cmd_start() {
  [ "$(id -u)" = 0 ] || die "must run as root (slurmd and munged need it)"
  need munged slurmctld slurmd sbatch squeue sinfo scancel
  if [ -f "$DIR/slurmctld.pid" ] && pid_alive "$DIR/slurmctld.pid"; then
    echo "slurm-local: already running ($DIR)"
    echo "export SLURM_CONF=$DIR/slurm.conf"
    return 0
  fi
  cmd_stop >/dev/null
  mkdir -p "$DIR"/{state,spool,munge}
  chmod 700 "$DIR" "$DIR/munge"

  # munge: a fresh key, its own socket (slurm.conf's AuthInfo points slurm at it).
  dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1 count=1024 status=none
  chmod 400 "$DIR/munge/munge.key"
  munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munge/munged.seed" ||
    die "munged failed to start (see $DIR/munged.log)"

  local host node
  host="$(hostname -s)"
  # The node's real CPUs, sockets, cores and memory, as slurmd sees them.
  node="$(slurmd -C | head -n 1)"
  [[ "$node" == NodeName=* ]] || die "slurmd -C gave no node line: $node"
  # A job that asks for no memory gets its CPUs' share (otherwise it would hold the whole node's memory).
  local cpus mem
  cpus="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")"
  mem="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$node")"
  cat >"$DIR/slurm.conf" <<EOF
$MARK
ClusterName=peftlab-local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
MinJobAge=300
DefMemPerCPU=$((mem / cpus))
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$DIR/slurm.conf"
  if [ ! -e "$ETC_LINK" ] && [ -d /etc/slurm ]; then ln -s "$DIR/slurm.conf" "$ETC_LINK"; fi

  slurmctld -f "$SLURM_CONF" -c || die "slurmctld failed to start (see $DIR/slurmctld.log)"
  local name="${node%% *}"
  slurmd -f "$SLURM_CONF" -N "${name#NodeName=}" ||
    die "slurmd failed to start (see $DIR/slurmd.log)"
  local i
  for i in $(seq 1 60); do
    if sinfo -h -o "%t" 2>/dev/null | grep -Eq "^(idle|mix|alloc)"; then
      echo "slurm-local: started; state in $DIR"
      sinfo -h -o "node %n: %t, %c CPUs, %m MB"
      echo "export SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.5
  done
  echo "--- slurmctld.log" >&2
  tail -n 20 "$DIR/slurmctld.log" >&2 || true
  echo "--- slurmd.log" >&2
  tail -n 20 "$DIR/slurmd.log" >&2 || true
  cmd_stop >/dev/null
  die "the node did not come up within 30 s"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) die "usage: $0 start|stop|status" ;;
esac
