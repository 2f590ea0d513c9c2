#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# No function in lib/ over 80 lines unless the comment right above it says why, in a line that
# starts with "Long:". Counts from the line that opens the definition to its closing brace in
# column 0. Every function that was longer when this check came has been split (issue 16 item 1):
# there is no list of exceptions, and the only way past the limit is a written reason.
set -eu
top="${abs_top_srcdir:-$(dirname "$0")/..}"
status=0
for f in "$top"/lib/*.c; do
        awk -v file="lib/${f##*/}" '
                !infn && /^[a-zA-Z_].*\(/ && !/;[ \t]*$/ && !/^#/ {
                        infn = 1; start = FNR; reason = long; name = $0
                        sub(/\(.*/, "", name); n = split(name, w, /[ *]+/); name = w[n]
                }
                !infn { long = ($0 ~ /^(\/\*| \*) Long:/) ? 1 : (($0 ~ /^(\/\*| \*)/) ? long : 0) }
                infn && /^}/ {
                        len = FNR - start + 1
                        if (len > 80 && !reason) {
                                printf "%s:%d: %s is %d lines (over 80, no \"Long:\" reason above it)\n", file, start, name, len
                                bad = 1
                        }
                        infn = 0; long = 0
                }
                END { exit bad }' "$f" || status=1
done
exit $status
