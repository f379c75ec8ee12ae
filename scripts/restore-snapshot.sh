#!/usr/bin/env bash
# scripts/restore-snapshot.sh DATA_DIR TAG [KEYSPACE [TABLE]]
#
# Restores tables of a stopped Helenus node from a snapshot taken with
# `helenus admin snapshot -t TAG` (docs/OPERATIONS.md, "Snapshots and
# restore"). For each shard and each snapshotted table (all of them, or
# those of KEYSPACE, or KEYSPACE.TABLE) it removes the table's current
# sstables and hard-links the snapshot's files back under new generation
# numbers (above every generation the table has used, and above a TRUNCATE
# marker's), so the table reads exactly as at the snapshot once the node
# starts. The node must be stopped cleanly first (its commitlog then holds
# nothing newer for the table), with the same shard count, and the table
# must still exist in the schema under the same id (a dropped table can be
# recreated WITH ID = <id>; the id is the suffix of the snapshot directory).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
DATA="$1"; TAG="$2"; KS="${3:-}"; TABLE="${4:-}"
[ -d "$DATA" ] || { echo "restore: no data directory $DATA" >&2; exit 1; }
if [ -e "$DATA/helenus.lock" ] && ! flock -n "$DATA/helenus.lock" true; then
  echo "restore: $DATA is in use by a running node; stop it first" >&2; exit 1
fi
found=0
for shard in "$DATA"/shard-*; do
  snap="$shard/snapshots/$TAG"
  [ -d "$snap" ] || continue
  for sdir in "$snap"/*; do
    [ -d "$sdir" ] || continue
    name=$(basename "$sdir")           # <ks>.<table>-<id hex>
    ks=${name%%.*}; rest=${name#*.}; t=${rest%-*}; id=${rest##*-}
    [ -z "$KS" ] || [ "$KS" = "$ks" ] || continue
    [ -z "$TABLE" ] || [ "$TABLE" = "$t" ] || continue
    found=1
    tdir="$shard/tables/$id"
    mkdir -p "$tdir"
    next=1
    for f in "$tdir"/nb-*-Data.db; do
      [ -e "$f" ] || continue
      g=$(basename "$f" | sed -E 's/^nb-([0-9]+)-Data\.db$/\1/')
      [ "$g" -ge "$next" ] && next=$((g + 1))
    done
    if [ -f "$tdir/Truncated.txt" ]; then
      tg=$(awk '/^truncated-before-generation /{print $2}' "$tdir/Truncated.txt")
      [ -n "$tg" ] && [ "$tg" -ge "$next" ] && next=$tg
    fi
    rm -f "$tdir"/nb-*-Data.db "$tdir"/compaction-*.log
    n=0
    for f in "$sdir"/nb-*-Data.db; do
      [ -e "$f" ] || continue
      ln "$f" "$tdir/nb-$next-Data.db"
      next=$((next + 1)); n=$((n + 1))
    done
    sync "$tdir" 2>/dev/null || sync
    echo "restored $ks.$t on $(basename "$shard"): $n sstable(s)"
  done
done
[ "$found" = 1 ] || { echo "restore: no snapshot '$TAG'${KS:+ of $KS}${TABLE:+.$TABLE} in $DATA" >&2; exit 1; }
