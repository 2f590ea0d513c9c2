#!/bin/sh
# Every path into the system is built by lib/root.c. Fail when a "/sys or "/dev/vfio literal appears
# in any other C source of the programs and the library.
set -eu
srcdir=${abs_top_srcdir:-$(dirname "$0")/..}
cd "$srcdir"
hits=$(grep -rnE '"/(sys|dev/vfio|run|proc)([/"]|$)' --include='*.c' --include='*.h' lib src hooks udev dracut 2>/dev/null \
        | grep -v '^lib/root\.c:' || true)
if [ -n "$hits" ]; then
        echo "system paths spelled outside lib/root.c (use vc_ctx_path()):"
        echo "$hits"
        exit 1
fi
echo "ok - no system path literal outside lib/root.c"
