#!/bin/sh
# Prepares midogpp: see data-scripts/README.md. Extra options pass through (e.g. --dest DIR).
exec node "$(dirname "$0")/prepare.mjs" midogpp "$@"
