#!/bin/sh
# Adds the stack's user and group by writing /etc/passwd and /etc/group directly, so it works
# the same on images with and without shadow-utils (the AL2023 minimal image has none).
# Usage: add-user.sh <name> <uid> <gid>
set -eu
name=$1 uid=$2 gid=$3
grep -q "^[^:]*:[^:]*:$gid:" /etc/group || echo "$name:x:$gid:" >> /etc/group
grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd || echo "$name:x:$uid:$gid:Luban user:/home/$name:/bin/sh" >> /etc/passwd
mkdir -p "/home/$name"
chown "$uid:$gid" "/home/$name"
