/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "clock.h"
#include "log.h"
#include "macro.h"
#include "units.h"

#define SYSTEMD_NAME "org.freedesktop.systemd1"
#define SYSTEMD_PATH "/org/freedesktop/systemd1"
#define SYSTEMD_MANAGER "org.freedesktop.systemd1.Manager"

/* libsystemd is opened on first use, as libkmod is (lib/modules.c): the symbols resolve the way
 * the linker would (RTLD_DEFAULT after an RTLD_GLOBAL open). */
#define SD_SYMBOLS(X)                                                                              \
        X(sd_bus_open_system) \
        X(sd_bus_flush_close_unref) \
        X(sd_bus_process) \
        X(sd_bus_wait) \
        X(sd_bus_slot_unref) \
        X(sd_bus_message_unref) \
        X(sd_bus_message_read) \
        X(sd_bus_message_skip) \
        X(sd_bus_message_enter_container) \
        X(sd_bus_message_exit_container) \
        X(sd_bus_call_method) \
        X(sd_bus_match_signal) \
        X(sd_bus_error_free) \
        X(sd_bus_error_get_errno)

#define X(name) static __typeof__(name) *sym_##name;
SD_SYMBOLS(X)
#undef X

static int sd_dl_state; /* 0 not tried yet, 1 usable, a negative errno */

static int sd_dl(void) {
        if (sd_dl_state == 0) {
                if (!dlopen("libsystemd.so.0", RTLD_NOW | RTLD_GLOBAL)) {
                        log_debug("Cannot load libsystemd.so.0: %s", dlerror());
                        return sd_dl_state = -ELIBACC;
                }
#define X(name)                                                                                    \
                if (!(sym_##name = (__typeof__(name) *) dlsym(RTLD_DEFAULT, #name))) {             \
                        log_debug("libsystemd.so.0 has no %s", #name);                            \
                        return sd_dl_state = -ELIBACC;                                             \
                }
                SD_SYMBOLS(X)
#undef X
                sd_dl_state = 1;
        }
        return sd_dl_state < 0 ? sd_dl_state : 0;
}

static void busp(sd_bus **b) {
        if (*b)
                sym_sd_bus_flush_close_unref(*b);
}
static void messagep(sd_bus_message **m) {
        if (*m)
                sym_sd_bus_message_unref(*m);
}
static void slotp(sd_bus_slot **s) {
        if (*s)
                sym_sd_bus_slot_unref(*s);
}
static void errorp(sd_bus_error *e) { sym_sd_bus_error_free(e); }

bool vc_unit_name_is_valid(const char *name) {
        static const char *const kinds[] = { ".service", ".socket", ".target", ".scope",
                                             ".mount",   ".path",   ".timer" };
        size_t l = name ? strlen(name) : 0;
        if (l == 0 || l > 255 || name[0] == '.' ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\@") != l)
                return false;
        const char *dot = strrchr(name, '.');
        for (size_t i = 0; dot && i < ELEMENTSOF(kinds); i++)
                if (streq(dot, kinds[i]))
                        return dot > name;
        return false;
}

static int bus_error(const sd_bus_error *e, int r, const char *what, const char *unit) {
        int k = sym_sd_bus_error_get_errno(e);
        if (k > 0)
                r = -k;
        log_debug("%s %s: %s", what, unit, e && e->message ? e->message : strerror(r < 0 ? -r : EIO));
        return r < 0 ? r : -EIO;
}

/* Check @name, load libsystemd, connect to the system bus. */
static int bus_open(const char *name, sd_bus **ret) {
        int r;
        if (!vc_unit_name_is_valid(name))
                return -EINVAL;
        if ((r = sd_dl()) < 0)
                return r;
        if ((r = sym_sd_bus_open_system(ret)) < 0)
                return log_debug_errno(r, "Cannot connect to the system bus: %m");
        return 0;
}

int vc_unit_is_active(const char *name) {
        _cleanup_(busp) sd_bus *bus = NULL;
        _cleanup_(messagep) sd_bus_message *reply = NULL;
        _cleanup_(errorp) sd_bus_error error = SD_BUS_ERROR_NULL;
        const char *active = NULL;
        int r;

        if ((r = bus_open(name, &bus)) < 0)
                return r;
        r = sym_sd_bus_call_method(bus, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "ListUnitsByNames", &error,
                                   &reply, "as", 1, name);
        if (r < 0)
                return bus_error(&error, r, "Cannot ask systemd about", name);
        /* a(ssssssouso): name, description, load state, active state, ... */
        if ((r = sym_sd_bus_message_enter_container(reply, 'a', "(ssssssouso)")) < 0)
                return r;
        r = sym_sd_bus_message_read(reply, "(ssssssouso)", NULL, NULL, NULL, &active, NULL, NULL, NULL, NULL,
                                    NULL, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return 0; /* systemd does not know it */
        return streq(active, "active") || streq(active, "activating") || streq(active, "reloading");
}

struct job_wait {
        const char *path; /* the job's object path, once the call returned */
        bool done;
        char *result;
};

/* JobRemoved(u id, o job, s unit, s result): the job is over. Signals that arrive before the
 * call's reply is read wait in the queue until sd_bus_process() runs, so none is missed. */
static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        struct job_wait *w = userdata;
        const char *path = NULL, *unit = NULL, *result = NULL;
        uint32_t id;
        (void) error;
        if (sym_sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0 || !w->path || !streq(path, w->path))
                return 0;
        w->done = true;
        w->result = strdup(result);
        return 0;
}

int vc_unit_change(const char *name, bool start, unsigned timeout_ms, char **ret_result) {
        _cleanup_(busp) sd_bus *bus = NULL;
        _cleanup_(slotp) sd_bus_slot *slot = NULL;
        _cleanup_(messagep) sd_bus_message *reply = NULL;
        _cleanup_(errorp) sd_bus_error error = SD_BUS_ERROR_NULL;
        struct job_wait w = { 0 };
        int r;

        if (ret_result)
                *ret_result = NULL;
        if ((r = bus_open(name, &bus)) < 0)
                return r;
        if ((r = sym_sd_bus_match_signal(bus, &slot, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, "JobRemoved",
                                         on_job_removed, &w)) < 0)
                return log_debug_errno(r, "Cannot watch systemd's jobs: %m");
        r = sym_sd_bus_call_method(bus, SYSTEMD_NAME, SYSTEMD_PATH, SYSTEMD_MANAGER, start ? "StartUnit" : "StopUnit",
                                   &error, &reply, "ss", name, "replace");
        if (r < 0)
                return bus_error(&error, r, start ? "Cannot start" : "Cannot stop", name);
        if ((r = sym_sd_bus_message_read(reply, "o", &w.path)) < 0)
                return r;
        for (uint64_t deadline = vc_now_ms() + timeout_ms; !w.done;) {
                uint64_t now = vc_now_ms();
                if (now >= deadline)
                        return log_debug_errno(-ETIMEDOUT, "%s %s: the job did not finish in time", start ? "Start" : "Stop", name);
                if ((r = sym_sd_bus_process(bus, NULL)) < 0)
                        return r;
                if (r == 0 && (r = sym_sd_bus_wait(bus, (deadline - now) * 1000)) < 0)
                        return r;
        }
        if (!w.result)
                return -ENOMEM;
        log_debug("%s %s: %s", start ? "Start" : "Stop", name, w.result);
        r = streq(w.result, "done") ? 0 : -EIO;
        if (ret_result)
                *ret_result = w.result;
        else
                free(w.result);
        return r;
}
