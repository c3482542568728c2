#!/bin/sh
# Deletes from a run image's root filesystem what no app reads at run time, whatever the
# distro: logs, docs, man and info pages, translations. Each Dockerfile removes its own
# package manager's caches; the package database stays (scanners read it).
set -eu
rm -rf /var/log/* /usr/share/doc/* /usr/share/man/* /usr/share/info/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
