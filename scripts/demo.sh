#!/bin/bash
# The main demo: boot the stock Linux guest, run the workload, print a summary.
set -euo pipefail
LOG_TAG=demo
. "$(dirname "$0")/common.sh"
exec python3 "$KVM_BT_TOP/tests/guest/demo.py" "$@"
