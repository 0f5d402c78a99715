#!/bin/sh
# Prepares mlcc: see data-scripts/README.md. Extra options pass through (e.g. --dest DIR).
exec node "$(dirname "$0")/prepare.mjs" mlcc "$@"
