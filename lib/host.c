/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "host.h"
#include "sysfs.h"

bool vc_hostname_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 64 || s[0] == '-' || s[0] == '.')
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.'))
                        return false;
        }
        return true;
}

static bool machine_id_is_valid(const char *s) {
        if (strlen(s) != 32)
                return false;
        for (size_t i = 0; i < 32; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        /* systemd writes "uninitialized" before the first boot; an all-zero id is no id. */
        return strspn(s, "0") != 32;
}

/* Read one line file inside the root; *ret stays NULL when it is absent or fails @valid. */
static int read_value(struct vc_ctx *ctx, enum vc_place place, const char *rel,
                      bool (*valid)(const char *), char **ret) {
        _cleanup_free_ char *path = NULL, *v = NULL;
        int r = vc_ctx_path(ctx, place, &path, "%s", rel);
        if (r < 0)
                return r;
        r = vc_read_file(path, &v);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        v[strcspn(v, "\n")] = '\0';
        /* /etc/hostname may carry surrounding blanks and comments (hostname(5)). */
        char *s = v + strspn(v, " \t");
        s[strcspn(s, " \t#")] = '\0';
        if (!valid(s))
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

int vc_host_identity_read(struct vc_ctx *ctx, struct vc_host_identity *ret) {
        struct vc_host_identity h = {};
        int r;

        /* The kernel's name first (what the host calls itself now), then the configured one. */
        r = read_value(ctx, VC_PLACE_PROC, "sys/kernel/hostname", vc_hostname_is_valid, &h.hostname);
        if (r >= 0 && !h.hostname)
                r = read_value(ctx, VC_PLACE_ROOT, "etc/hostname", vc_hostname_is_valid, &h.hostname);
        if (r >= 0)
                r = read_value(ctx, VC_PLACE_ROOT, "etc/machine-id", machine_id_is_valid, &h.machine_id);
        if (r < 0) {
                vc_host_identity_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

void vc_host_identity_done(struct vc_host_identity *h) {
        free(h->hostname);
        free(h->machine_id);
        *h = (struct vc_host_identity){};
}

int vc_host_cpu_has_flag(struct vc_ctx *ctx, const char *flag) {
        /* The first CPU's block holds the flags line: a bounded read, however many CPUs there are. */
        _cleanup_free_ char *path = NULL;
        char info[16384];
        int r = vc_ctx_path(ctx, VC_PLACE_PROC, &path, "cpuinfo");
        if (r < 0)
                return r;
        ssize_t k = vc_sysfs_read_bytes(path, info, sizeof info - 1);
        if (k < 0)
                return (int) k;
        info[k] = '\0';
        size_t n = strlen(flag);
        for (char *l = info; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                if (!startswith(l, "flags"))
                        continue;
                l[strcspn(l, "\n")] = '\0';
                const char *v = strchr(l, ':');
                for (const char *w = v ? v + 1 : l + strlen(l); *w;) {
                        w += strspn(w, " \t");
                        size_t m = strcspn(w, " \t");
                        if (m == n && strncmp(w, flag, n) == 0)
                                return 1;
                        w += m;
                }
                return 0;
        }
        return 0;
}
