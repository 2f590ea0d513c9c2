/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "rom.h"
#include "sysfs.h"

static int read_all(int fd, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0, size = 0;
        for (;;) {
                if (len == size) {
                        if (size >= VC_ROM_MAX)
                                return -EFBIG;
                        size_t next = size ? size * 2 : 64 * 1024;
                        uint8_t *b = realloc(buf, next);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                        size = next;
                }
                ssize_t k = read(fd, buf + len, size - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (len == 0)
                return -ENODATA;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int vc_rom_read(struct vc_ctx *ctx, const struct vc_pci_addr *addr, uint8_t **ret, size_t *ret_len) {
        _cleanup_free_ char *path = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_PCI_DEVICES, &path, "%s/rom", VC_PCI_ADDR_TO_STRING(addr));
        if (r < 0)
                return r;
        if (!vc_path_exists(path))
                return -ENOENT;
        r = vc_sysfs_write(path, "1");
        if (r < 0)
                return r;
        _cleanup_close_ int fd = vc_path_open(path, O_RDONLY | O_NOCTTY, 0);
        r = fd < 0 ? fd : read_all(fd, ret, ret_len);
        /* exactly "0\n": pci_write_rom() takes any other value as "enable" */
        int k = vc_sysfs_write(path, "0\n");
        if (r >= 0 && k < 0) {
                free(*ret);
                *ret = NULL;
                return k;
        }
        return r;
}

bool vc_rom_has_signature(const uint8_t *buf, size_t len) {
        return buf && len >= 2 && buf[0] == 0x55 && buf[1] == 0xaa;
}

/* A value of libvirt's configuration syntax: "text" (no escapes needed for user names). */
static char *conf_string(const char *v) {
        v += strspn(v, " \t");
        if (*v != '"')
                return NULL;
        const char *end = strchr(v + 1, '"');
        return end ? strndup(v + 1, (size_t) (end - v - 1)) : NULL;
}

int vc_qemu_user(struct vc_ctx *ctx, char **ret_user, char **ret_group, bool *ret_from_config) {
        _cleanup_free_ char *path = NULL, *text = NULL, *user = NULL, *group = NULL;
        int r = vc_ctx_path(ctx, VC_PLACE_ROOT, &path, "etc/libvirt/qemu.conf");
        if (r < 0)
                return r;
        if (vc_sysfs_read(path, &text) >= 0)
                for (char *line = text, *next; line; line = next) {
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        line += strspn(line, " \t");
                        char **target = NULL;
                        const char *rest;
                        if ((rest = startswith(line, "user")))
                                target = &user;
                        else if ((rest = startswith(line, "group")))
                                target = &group;
                        if (!target)
                                continue;
                        rest += strspn(rest, " \t");
                        if (*rest != '=')
                                continue;
                        char *v = conf_string(rest + 1);
                        if (!v)
                                continue;
                        free(*target);
                        *target = v;
                }
        *ret_from_config = user != NULL;
        if (!user && !(user = strdup("libvirt-qemu")))
                return -ENOMEM;
        *ret_user = TAKE_PTR(user);
        *ret_group = TAKE_PTR(group);
        return 0;
}

static int parse_id(const char *s, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v >= (unsigned long) (uid_t) -1)
                return -EINVAL;
        *ret = (unsigned) v;
        return 0;
}

int vc_identity_resolve(const char *user, const char *group, struct vc_identity *ret) {
        struct vc_identity id = {};
        const char *name = NULL;
        unsigned n;
        if (user[0] == '+') {
                if (parse_id(user + 1, &n) < 0)
                        return -EINVAL;
                id.uid = n;
                struct passwd *pw = getpwuid(id.uid);
                id.gid = pw ? pw->pw_gid : (gid_t) n;
                name = pw ? pw->pw_name : NULL;
        } else {
                struct passwd *pw = getpwnam(user);
                if (!pw)
                        return -ESRCH;
                id.uid = pw->pw_uid;
                id.gid = pw->pw_gid;
                name = pw->pw_name;
        }
        if (group && group[0] == '+') {
                if (parse_id(group + 1, &n) < 0)
                        return -EINVAL;
                id.gid = n;
        } else if (group) {
                struct group *gr = getgrnam(group);
                if (!gr)
                        return -ESRCH;
                id.gid = gr->gr_gid;
        }
        if (name) {
                _cleanup_free_ char *copy = strdup(name);
                if (!copy)
                        return -ENOMEM;
                int k = 16;
                for (;;) {
                        gid_t *g = calloc((size_t) k, sizeof *g);
                        if (!g)
                                return -ENOMEM;
                        int got = k;
                        if (getgrouplist(copy, id.gid, g, &got) >= 0) {
                                id.groups = g;
                                id.n_groups = (size_t) got;
                                break;
                        }
                        free(g);
                        if (got <= k || got > 65536)
                                break;
                        k = got;
                }
        }
        *ret = id;
        return 0;
}

void vc_identity_done(struct vc_identity *id) {
        free(id->groups);
        *id = (struct vc_identity){};
}

static bool allowed(const struct stat *st, const struct vc_identity *id, mode_t owner_bit) {
        if (id->uid == 0)
                return true;
        if (st->st_uid == id->uid)
                return st->st_mode & owner_bit;
        bool member = st->st_gid == id->gid;
        for (size_t i = 0; i < id->n_groups && !member; i++)
                member = id->groups[i] == st->st_gid;
        if (member)
                return st->st_mode & (owner_bit >> 3);
        return st->st_mode & (owner_bit >> 6);
}

static int blocked(const char *what, char **ret_blocker) {
        if (ret_blocker && !(*ret_blocker = strdup(what)))
                return -ENOMEM;
        return 0;
}

int vc_path_readable_by(const char *path, const struct vc_identity *id, char **ret_blocker) {
        _cleanup_free_ char *canon = NULL;
        int r = vc_path_canonical(path, &canon);
        if (r < 0)
                return r;
        size_t skip = vc_path_root_length(canon), len = strlen(canon);
        struct stat st;
        /* the root directory, every directory below it (search), then the file (read) */
        for (size_t j = skip; j <= len; j++) {
                if (j < len && canon[j] != '/')
                        continue;
                bool file = j == len;
                char saved = canon[j];
                canon[j] = 0;
                const char *p = j == skip ? (skip ? canon : "/") : canon;
                r = vc_path_stat(p, &st);
                bool ok = r >= 0 && allowed(&st, id, file ? S_IRUSR : S_IXUSR);
                if (!ok) {
                        const char *shown = j == skip ? "/" : canon + skip;
                        r = r < 0 ? r : blocked(shown, ret_blocker);
                        canon[j] = saved;
                        return r;
                }
                canon[j] = saved;
                if (file)
                        return 1;
        }
        return 1;
}
