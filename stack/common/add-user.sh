#!/bin/sh
# Adds the stack's user and group by writing /etc/passwd and /etc/group directly, so it works
# the same on images without shadow-utils, grep or awk (the AL2023 minimal image).
# Usage: add-user.sh <name> <uid> <gid>
set -eu
name=$1 uid=$2 gid=$3

# has_id <file> <id>: whether an entry of <file> has <id> in its third field.
has_id() {
  while IFS=: read -r _ _ id _; do
    [ "$id" = "$2" ] && return 0
  done < "$1"
  return 1
}

has_id /etc/group "$gid" || echo "$name:x:$gid:" >> /etc/group
has_id /etc/passwd "$uid" || echo "$name:x:$uid:$gid:Luban user:/home/$name:/bin/sh" >> /etc/passwd
mkdir -p "/home/$name"
chown "$uid:$gid" "/home/$name"
