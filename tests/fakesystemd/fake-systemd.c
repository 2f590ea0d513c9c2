/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* fake-systemd DIR [LOG]: the part of systemd's D-Bus API that lib/units.c uses, served on the bus
 * of $DBUS_SYSTEM_BUS_ADDRESS (a private dbus-daemon of the test) under systemd's name, for the
 * tests of "stop = UNIT" (tests/bats/display.bats).
 *
 * org.freedesktop.systemd1.Manager at /org/freedesktop/systemd1:
 *   ListUnitsByNames(as) -> a(ssssssouso): a unit is DIR/units/NAME, holding "active" or
 *     "inactive" (no file: load state "not-found", inactive);
 *   StopUnit(ss) -> o, StartUnit(ss) -> o: the job's path; the job ends at once with the signal
 *     JobRemoved(u id, o job, s unit, s result). Stopping makes the unit inactive, starting
 *     active. With DIR/units/NAME.holds (a path: the fake /proc/PID of the unit's process) the
 *     stop moves that directory away (DIR/held/NAME) and the start puts it back: the process
 *     quits and comes back. DIR/units/NAME.fail-stop or .fail-start: the job ends "failed" and
 *     changes nothing.
 * Every job is appended to LOG as "systemd:stop NAME<TAB>RESULT" (the fake kernel's write log, so
 * that a test sees the order of jobs and sysfs writes). DIR/ready appears once the name is
 * owned. It runs until killed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

static const char *dir, *log_path;
static unsigned job_id;

static int read_state(const char *unit, char *buf, size_t n) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/units/%s", dir, unit);
        FILE *f = fopen(p, "re");
        if (!f)
                return -errno;
        if (!fgets(buf, (int) n, f))
                buf[0] = 0;
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
        return 0;
}

static void write_state(const char *unit, const char *state) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/units/%s", dir, unit);
        FILE *f = fopen(p, "we");
        if (f) {
                fprintf(f, "%s\n", state);
                fclose(f);
        }
}

static bool has(const char *unit, const char *suffix) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/units/%s%s", dir, unit, suffix);
        return access(p, F_OK) == 0;
}

/* The unit's process quits (@stop) or comes back. */
static void move_holder(const char *unit, bool stop) {
        char p[PATH_MAX], where[PATH_MAX], held[PATH_MAX];
        snprintf(p, sizeof p, "%s/units/%s.holds", dir, unit);
        FILE *f = fopen(p, "re");
        if (!f)
                return;
        if (!fgets(where, sizeof where, f))
                where[0] = 0;
        fclose(f);
        where[strcspn(where, "\n")] = 0;
        snprintf(held, sizeof held, "%s/held", dir);
        (void) mkdir(held, 0755);
        snprintf(held, sizeof held, "%s/held/%s", dir, unit);
        if (where[0])
                (void) rename(stop ? where : held, stop ? held : where);
}

static void log_job(const char *verb, const char *unit, const char *result) {
        if (!log_path)
                return;
        int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
                return;
        char line[512];
        int n = snprintf(line, sizeof line, "systemd:%s %s\t%s\n", verb, unit, result);
        (void) !write(fd, line, (size_t) n);
        close(fd);
}

static int job(sd_bus_message *m, bool start) {
        const char *unit, *mode;
        char path[64], state[32];
        int r = sd_bus_message_read(m, "ss", &unit, &mode);
        if (r < 0)
                return r;
        if (strchr(unit, '/') || read_state(unit, state, sizeof state) < 0)
                return sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit", "Unit %s not loaded.", unit);
        const char *result = "done";
        if (has(unit, start ? ".fail-start" : ".fail-stop"))
                result = "failed";
        else if (strcmp(state, start ? "active" : "inactive") != 0) {
                write_state(unit, start ? "active" : "inactive");
                move_holder(unit, !start);
        }
        log_job(start ? "start" : "stop", unit, result);
        unsigned id = ++job_id;
        snprintf(path, sizeof path, "/org/freedesktop/systemd1/job/%u", id);
        if ((r = sd_bus_reply_method_return(m, "o", path)) < 0)
                return r;
        return sd_bus_emit_signal(sd_bus_message_get_bus(m), "/org/freedesktop/systemd1",
                                  "org.freedesktop.systemd1.Manager", "JobRemoved", "uoss", id, path, unit, result);
}

static int method_stop(sd_bus_message *m, void *u, sd_bus_error *e) {
        (void) u;
        (void) e;
        return job(m, false);
}

static int method_start(sd_bus_message *m, void *u, sd_bus_error *e) {
        (void) u;
        (void) e;
        return job(m, true);
}

static int method_list(sd_bus_message *m, void *u, sd_bus_error *e) {
        sd_bus_message *reply = NULL;
        char **names = NULL;
        int r;
        (void) u;
        (void) e;
        if ((r = sd_bus_message_read_strv(m, &names)) < 0 || (r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "(ssssssouso)")) < 0)
                goto out;
        for (char **n = names; n && *n; n++) {
                char state[32] = "inactive";
                bool loaded = !strchr(*n, '/') && read_state(*n, state, sizeof state) >= 0;
                r = sd_bus_message_append(reply, "(ssssssouso)", *n, "", loaded ? "loaded" : "not-found", state,
                                          state, "", "/org/freedesktop/systemd1/unit/x", 0u, "", "/");
                if (r < 0)
                        goto out;
        }
        if ((r = sd_bus_message_close_container(reply)) >= 0)
                r = sd_bus_send(NULL, reply, NULL);
out:
        for (char **n = names; n && *n; n++)
                free(*n);
        free(names);
        sd_bus_message_unref(reply);
        return r;
}

static const sd_bus_vtable manager[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StopUnit", "ss", "o", method_stop, 0),
        SD_BUS_METHOD("StartUnit", "ss", "o", method_start, 0),
        SD_BUS_METHOD("ListUnitsByNames", "as", "a(ssssssouso)", method_list, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

int main(int argc, char **argv) {
        sd_bus *bus = NULL;
        char p[PATH_MAX];
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: fake-systemd DIR [LOG]\n");
                return 2;
        }
        dir = argv[1];
        log_path = argc > 2 ? argv[2] : NULL;
        if ((r = sd_bus_open_system(&bus)) < 0 ||
            (r = sd_bus_add_object_vtable(bus, NULL, "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
                                          manager, NULL)) < 0 ||
            (r = sd_bus_request_name(bus, "org.freedesktop.systemd1", 0)) < 0) {
                fprintf(stderr, "fake-systemd: %s\n", strerror(-r));
                return 1;
        }
        snprintf(p, sizeof p, "%s/ready", dir);
        FILE *f = fopen(p, "we");
        if (f)
                fclose(f);
        for (;;) {
                if ((r = sd_bus_process(bus, NULL)) < 0) {
                        fprintf(stderr, "fake-systemd: %s\n", strerror(-r));
                        return 1;
                }
                if (r == 0 && (r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR)
                        return 1;
        }
}
