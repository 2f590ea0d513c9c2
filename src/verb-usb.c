/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* USB devices in `list` and `show`: where each sits (port path, host controller and its IOMMU
 * group), what it is, which host drivers hold its interfaces, and the [usb NAME] entry that
 * names it. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "name.h"
#include "sysfs.h"
#include "table.h"
#include "usb.h"
#include "verb-usb.h"
#include "virt.h"

static const char *const usb_columns[] = {
        "PORT", "ID", "SERIAL", "DRIVERS", "CONTROLLER", "GROUP", "CONFIG", "PRODUCT",
};

/* The interfaces' drivers, each once, in interface order: "usbhid", "usbhid,btusb"; NULL when no
 * interface has one. */
static char *drivers_joined(const struct vc_usb_dev *d) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);
        if (!f)
                return NULL;
        bool any = false;
        for (size_t i = 0; i < d->n_ifaces; i++) {
                const char *drv = d->ifaces[i].driver;
                bool seen = false;
                for (size_t k = 0; drv && k < i; k++)
                        seen = seen || streq_ptr(d->ifaces[k].driver, drv);
                if (!drv || seen)
                        continue;
                fprintf(f, "%s%s", any ? "," : "", drv);
                any = true;
        }
        if (fclose(f) != 0 || !any) {
                free(s);
                return NULL;
        }
        return s;
}

static char *product_text(const struct vc_usb_dev *d) {
        char *s;
        if (asprintf(&s, "%s%s%s", strempty(d->manufacturer), d->manufacturer && d->product_name ? " " : "",
                     strempty(d->product_name)) < 0)
                return NULL;
        return s;
}

static const struct vc_config_usb *config_of(struct vc_cli *cli, const struct vc_usb_dev *d) {
        return vc_config_match_usb(cli->config, d);
}

int usb_list_text(struct vc_cli *cli, bool heading) {
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r = vc_usb_enumerate(cli->ctx, VC_USB_READ_STRINGS, &v, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the USB devices under %s: %m", vc_ctx_root(cli->ctx)), r;
        if (n == 0) {
                vc_usb_devs_free(v, n);
                return 0;
        }
        struct table *t = table_new(ELEMENTSOF(usb_columns), usb_columns);
        if (!t) {
                vc_usb_devs_free(v, n);
                return log_error("out of memory"), -ENOMEM;
        }
        table_set_drop_rank(t, 2, 3); /* SERIAL */
        table_set_drop_rank(t, 6, 2); /* CONFIG */
        table_set_drop_rank(t, 7, 1); /* PRODUCT */
        r = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const struct vc_usb_dev *d = &v[i];
                const struct vc_config_usb *u = config_of(cli, d);
                _cleanup_free_ char *drivers = drivers_joined(d), *product = product_text(d);
                char group[16] = "";
                if (d->group >= 0)
                        snprintf(group, sizeof group, "%d", d->group);
                if (table_add(t, d->port) < 0 || table_addf(t, "%04x:%04x", d->vendor, d->product) < 0 ||
                    table_add(t, d->serial) < 0 || table_add(t, drivers) < 0 ||
                    table_add(t, d->has_controller ? VC_PCI_ADDR_TO_STRING(&d->controller) : NULL) < 0 ||
                    table_add(t, group[0] ? group : NULL) < 0 || table_add(t, u ? u->name : NULL) < 0 ||
                    table_add(t, isempty(product) ? NULL : product) < 0)
                        r = -ENOMEM;
        }
        if (r >= 0) {
                if (heading)
                        printf("\nUSB devices (pass one alone, or its controller's whole IOMMU group):\n");
                table_print(t, stdout, 0);
        } else
                log_error("out of memory");
        table_free(t);
        vc_usb_devs_free(v, n);
        return r;
}

static void json_usb(struct vc_cli *cli, struct vc_json *j, const struct vc_usb_dev *d) {
        const struct vc_config_usb *u = config_of(cli, d);
        char id[16];
        snprintf(id, sizeof id, "%04x:%04x", d->vendor, d->product);
        vc_json_object_begin(j);
        vc_json_kv_string(j, "port", d->port);
        vc_json_kv_string(j, "id", id);
        vc_json_kv_string(j, "serial", d->serial);
        vc_json_kv_string(j, "manufacturer", d->manufacturer);
        vc_json_kv_string(j, "product", d->product_name);
        vc_json_kv_uint(j, "bus", d->busnum);
        vc_json_kv_uint(j, "device", d->devnum);
        vc_json_key(j, "interfaces");
        vc_json_array_begin(j);
        for (size_t i = 0; i < d->n_ifaces; i++) {
                char cls[8];
                snprintf(cls, sizeof cls, "%02x", d->ifaces[i].cls);
                vc_json_object_begin(j);
                vc_json_kv_string(j, "name", d->ifaces[i].name);
                vc_json_kv_string(j, "class", cls);
                vc_json_kv_string(j, "driver", d->ifaces[i].driver);
                vc_json_object_end(j);
        }
        vc_json_array_end(j);
        vc_json_kv_string(j, "controller", d->has_controller ? VC_PCI_ADDR_TO_STRING(&d->controller) : NULL);
        if (d->group >= 0)
                vc_json_kv_int(j, "group", d->group);
        else {
                vc_json_key(j, "group");
                vc_json_null(j);
        }
        vc_json_kv_string(j, "config", u ? u->name : NULL);
        vc_json_object_end(j);
}

int usb_list_json(struct vc_cli *cli, struct vc_json *j) {
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r = vc_usb_enumerate(cli->ctx, VC_USB_READ_STRINGS, &v, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the USB devices under %s: %m", vc_ctx_root(cli->ctx)), r;
        vc_json_key(j, "usb");
        vc_json_array_begin(j);
        for (size_t i = 0; i < n; i++)
                json_usb(cli, j, &v[i]);
        vc_json_array_end(j);
        vc_usb_devs_free(v, n);
        return 0;
}

bool usb_arg_is_usb(struct vc_cli *cli, const char *text) {
        /* a [device NAME] that happens to look like a port path stays a PCI device */
        if (vc_config_find_device(cli->config, text))
                return false;
        return vc_usb_port_is_valid(text) || vc_config_find_usb(cli->config, text);
}

/* Does entry @u select @d? @d's serial is read when @u names one and the ids match, with a bound
 * (lib/usb.h: the caller may hold the lock). EXIT_DONE with *ret, or EXIT_FAILED, said. */
static int entry_selects(struct vc_cli *cli, const struct vc_config_usb *u, struct vc_usb_dev *d, bool *ret) {
        int r;
        if (u->serial && u->vendor == d->vendor && u->product == d->product &&
            (r = vc_usb_dev_read_serial(cli->ctx, d)) < 0) {
                if (r == -ETIMEDOUT)
                        log_error("%s: cannot read the serial number of USB device %04x:%04x within %u s: a driver "
                                  "holds the device (probing or resetting it); nothing was changed",
                                  d->port, d->vendor, d->product, vc_ctx_get_unbind_timeout_ms(cli->ctx) / 1000);
                else
                        log_error_errno(r, "%s: cannot read the serial number of USB device %04x:%04x: %m; nothing "
                                        "was changed", d->port, d->vendor, d->product);
                return EXIT_FAILED;
        }
        *ret = vc_config_usb_selects(u, d);
        return EXIT_DONE;
}

/* The devices @text names: a port path (one device), or a [usb NAME] entry (every device it
 * selects: identical devices without serial or port give several). @flags: vc_usb_enumerate()'s. */
static int usb_resolve(struct vc_cli *cli, const char *text, unsigned flags, struct vc_usb_dev **ret, size_t *ret_n) {
        const struct vc_config_usb *u = vc_config_find_usb(cli->config, text);
        struct vc_usb_dev *v = NULL;
        size_t n = 0, k = 0;
        int r = vc_usb_enumerate(cli->ctx, flags, &v, &n);
        if (r < 0)
                return log_error_errno(r, "cannot read the USB devices under %s: %m", vc_ctx_root(cli->ctx)), EXIT_FAILED;
        for (size_t i = 0; i < n; i++) {
                bool keep = !u && streq(v[i].port, text);
                if (u && entry_selects(cli, u, &v[i], &keep) != EXIT_DONE) {
                        for (size_t j = i; j < n; j++)
                                vc_usb_dev_done(&v[j]);
                        vc_usb_devs_free(v, k);
                        return EXIT_FAILED;
                }
                if (keep)
                        v[k++] = v[i];
                else
                        vc_usb_dev_done(&v[i]);
        }
        if (k == 0) {
                free(v);
                if (u)
                        return log_error("%s: no USB device %04x:%04x%s%s%s%s is plugged in (%s:%u)", text, u->vendor,
                                         u->product, u->serial ? " with serial " : "", strempty(u->serial),
                                         u->port ? " at port " : "", strempty(u->port), u->file, u->line),
                               EXIT_FAILED;
                return log_error("%s: no USB device is plugged into this port (see 'vfio-claim list')", text),
                       EXIT_FAILED;
        }
        *ret = v;
        *ret_n = k;
        return EXIT_DONE;
}

int usb_show(struct vc_cli *cli, const char *text) {
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r = usb_resolve(cli, text, VC_USB_READ_STRINGS, &v, &n);
        if (r != EXIT_DONE)
                return r;
        if (cli->json) {
                struct vc_json *j = vc_json_new(stdout);
                if (!j) {
                        vc_usb_devs_free(v, n);
                        return log_error("out of memory"), EXIT_FAILED;
                }
                vc_json_object_begin(j);
                vc_json_key(j, "usb");
                vc_json_array_begin(j);
                for (size_t i = 0; i < n; i++)
                        json_usb(cli, j, &v[i]);
                vc_json_array_end(j);
                vc_json_object_end(j);
                r = vc_json_finish(j);
                vc_json_free(j);
                vc_usb_devs_free(v, n);
                if (r < 0)
                        return log_error_errno(r, "cannot write the JSON document: %m"), EXIT_FAILED;
                return EXIT_DONE;
        }
        for (size_t i = 0; i < n; i++) {
                const struct vc_usb_dev *d = &v[i];
                const struct vc_config_usb *u = config_of(cli, d);
                /* the device's own strings, shown as text whatever bytes it sent */
                _cleanup_free_ char *raw = product_text(d), *product = raw ? vc_text_printable(raw) : NULL,
                                    *serial = d->serial ? vc_text_printable(d->serial) : NULL;
                printf("USB device %s  %04x:%04x%s%s\n", d->port, d->vendor, d->product, isempty(product) ? "" : "  ",
                       strempty(product));
                printf("      serial:        %s\n", serial ? serial : "(none)");
                printf("      address:       bus %u device %u\n", d->busnum, d->devnum);
                for (size_t k = 0; k < d->n_ifaces; k++)
                        printf("      interface:     %s class %02x, driver %s\n", d->ifaces[k].name, d->ifaces[k].cls,
                               d->ifaces[k].driver ? d->ifaces[k].driver : "(none)");
                if (d->has_controller) {
                        printf("      controller:    %s", VC_PCI_ADDR_TO_STRING(&d->controller));
                        if (d->group >= 0)
                                printf(", IOMMU group %d (passing the whole group takes every device on it)", d->group);
                        printf("\n");
                }
                if (u)
                        printf("      configured as: %s (%s:%u)\n", u->name, u->file, u->line);
        }
        vc_usb_devs_free(v, n);
        return EXIT_DONE;
}

/* ------------------------------------------------------------------ enable, disable */

int usb_enable(struct vc_cli *cli, const char *text) {
        _cleanup_close_ int lock = -1;
        struct vc_usb_dev *v = NULL;
        size_t n = 0;
        int r;
        /* The configuration main() loaded (enable NEEDS_CONFIG, src/main.c) is read again under
         * the lock, and the devices an entry selects are found from it there, as disable does
         * (usb_disable()): an entry changed or dropped while this run waited is seen as it is
         * now. Nobody is asked anything here, so all of it is decided under the lock. */
        bool was_entry = vc_config_find_usb(cli->config, text) != NULL;
        if (!cli->dry_run &&
            ((r = cli_take_lock(cli, &lock)) != EXIT_DONE || (r = cli_reload_config(cli)) != EXIT_DONE))
                return r;
        if (was_entry && !vc_config_find_usb(cli->config, text) && !vc_usb_port_is_valid(text))
                return log_error("%s: no longer configured in %s; nothing was changed", text, cli->config_dir),
                       EXIT_FAILED;
        if ((r = usb_resolve(cli, text, 0, &v, &n)) != EXIT_DONE)
                return r;
        /* Every device is vetted before any is touched: a refusal changes nothing. */
        _cleanup_(vc_critical_set_freep) struct vc_critical_set *critical = NULL;
        if (n > 0 && (r = vc_critical_scan(cli->ctx, &critical)) < 0) {
                vc_usb_devs_free(v, n);
                return log_error_errno(r, "cannot tell which devices the host needs: %m"), EXIT_FAILED;
        }
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *reason = NULL;
                /* a record at its port is its own, or another device's, unplugged since (replaced
                 * below); a serial the record names is read with a bound */
                if ((r = vc_usb_record_is_of(cli->ctx, &v[i])) < 0 && r != -ENOENT) {
                        if (r == -ETIMEDOUT)
                                log_error("%s: cannot read the serial number of USB device %04x:%04x within %u s, "
                                          "which the record of its port names: a driver holds the device (probing "
                                          "or resetting it); nothing was changed",
                                          v[i].port, v[i].vendor, v[i].product,
                                          vc_ctx_get_unbind_timeout_ms(cli->ctx) / 1000);
                        else
                                log_error_errno(r, "%s: cannot tell whether the record of its port is USB device "
                                                "%04x:%04x's: %m; nothing was changed",
                                                v[i].port, v[i].vendor, v[i].product);
                        vc_usb_devs_free(v, n);
                        return EXIT_FAILED;
                }
                if ((r = vc_usb_dev_protected(cli->ctx, critical, &v[i], &reason)) < 0) {
                        vc_usb_devs_free(v, n);
                        return log_error_errno(r, "%s: cannot tell whether the host needs it: %m", v[i].port),
                               EXIT_FAILED;
                }
                if (reason && !cli->force) {
                        log_error("%s: refused: the host needs this USB device: %s (--force takes it anyway)",
                                  v[i].port, reason);
                        vc_usb_devs_free(v, n);
                        return EXIT_REFUSED;
                }
                if (reason)
                        log_warning("%s: %s; taken anyway (--force)", v[i].port, reason);
                /* a stick's disk a process holds open (a VM's QEMU using it raw, a copy running) */
                _cleanup_free_ char *who = NULL;
                r = vc_block_holders_check(cli->ctx, (const char *const[]){ v[i].port }, 1, NULL, &who);
                if (r == -EBUSY && !cli->force) {
                        log_error("%s: %s; stop them first (--force takes it anyway)", v[i].port, who);
                        vc_usb_devs_free(v, n);
                        return EXIT_REFUSED;
                }
                if (r == -EBUSY)
                        log_warning("%s: %s; taken anyway (--force)", v[i].port, who);
                else if (r < 0) {
                        vc_usb_devs_free(v, n);
                        return log_error_errno(r, "%s: cannot tell whether a process holds its disks: %m", v[i].port),
                               EXIT_FAILED;
                }
        }
        /* the devices this run enabled (not those enabled before it): what a failure puts back */
        _cleanup_free_ bool *mine = calloc(n + 1, sizeof *mine);
        if (!mine) {
                vc_usb_devs_free(v, n);
                return log_error("out of memory"), EXIT_FAILED;
        }
        r = EXIT_DONE;
        for (size_t i = 0; i < n && r == EXIT_DONE; i++) {
                struct vc_usb_dev *d = &v[i];
                const char *failed = NULL;
                unsigned sv = 0, sp = 0; /* a stale record's ids */
                for (size_t k = 0; k < d->n_ifaces; k++)
                        printf("%s: %s\n", d->ifaces[k].name,
                               d->ifaces[k].driver ? (cli->dry_run ? "would be unbound from its driver" : "unbind")
                                                   : "no driver: left alone");
                if (cli->dry_run)
                        continue;
                (void) vc_usb_record_id(cli->ctx, d->port, &sv, &sp);
                int k = vc_usb_enable(cli->ctx, d, &failed);
                unsigned retaken = 0;
                if (k > 0)
                        log_notice("%s: the record of USB device %04x:%04x, unplugged from this port since, is "
                                   "replaced by that of %04x:%04x", d->port, sv, sp, d->vendor, d->product);
                /* Enabled already: an interface a host driver bound again since (a module loaded
                 * with no udev rule of ours to undo it) is taken back, and the record gains it. */
                if (k == -EEXIST && (k = vc_usb_hold(cli->ctx, d, NULL, &retaken, &failed)) >= 0)
                        k = -EEXIST;
                if (k == -EEXIST && retaken > 0)
                        log_notice("%s: enabled already; %u interface%s a host driver had bound since taken back",
                                   d->port, retaken, retaken == 1 ? "" : "s");
                else if (k == -EEXIST)
                        log_info("%s: enabled already", d->port);
                else if (k < 0) {
                        if (k == -ETIMEDOUT) /* the kernel may still carry that unbind out */
                                log_error("%s: unbind of %s from its driver did not finish within %u s; the other "
                                          "interfaces were put back, that one may still leave its driver",
                                          d->port, strna(failed), vc_ctx_get_unbind_timeout_ms(cli->ctx) / 1000);
                        else
                                log_error_errno(k, "%s: failed to unbind %s from its driver: %m (nothing changed)",
                                                d->port, strna(failed));
                        /* the devices this run enabled before this one go back too; those
                         * enabled before it (a VM may have them) stay */
                        for (size_t j = 0; j < i; j++)
                                if (mine[j])
                                        (void) vc_usb_disable(cli->ctx, v[j].port);
                        r = EXIT_FAILED;
                } else {
                        mine[i] = true;
                        log_info("%s: enabled: its interfaces have no host driver now", d->port);
                }
        }
        vc_usb_devs_free(v, n);
        return r;
}

int usb_disable(struct vc_cli *cli, const char *text) {
        _cleanup_close_ int lock = -1;
        const struct vc_config_usb *u;
        int r;
        /* The records say what is enabled; a device unplugged meanwhile still has one. They are
         * listed under the lock: a device another run enabled while this one waited for it has
         * one by then. The entry they are matched against is the configuration's as read under
         * the lock too (main() read it before: disable NEEDS_CONFIG, src/main.c): an entry
         * changed or dropped meanwhile (the admin, another run) is seen as it is now. */
        _cleanup_free_ char *dir = NULL;
        _cleanup_strv_free_ char **names = NULL;
        bool was_entry = vc_config_find_usb(cli->config, text) != NULL;
        if (!cli->dry_run &&
            ((r = cli_take_lock(cli, &lock)) != EXIT_DONE || (r = cli_reload_config(cli)) != EXIT_DONE))
                return r;
        u = vc_config_find_usb(cli->config, text);
        if (was_entry && !u && !vc_usb_port_is_valid(text))
                return log_error("%s: no longer configured in %s; nothing was changed", text, cli->config_dir),
                       EXIT_FAILED;
        if ((r = vc_ctx_path(cli->ctx, VC_PLACE_RUN_STATE, &dir, NULL)) < 0)
                return log_error_errno(r, "%m"), EXIT_FAILED;
        r = vc_dir_list(dir, &names);
        if (r < 0 && r != -ENOENT)
                return log_error_errno(r, "cannot read %s: %m", dir), EXIT_FAILED;
        size_t done = 0;
        int code = EXIT_DONE;
        for (char **s = names; s && *s; s++) {
                const char *port = startswith(*s, "usb-");
                if (!port || !vc_usb_port_is_valid(port))
                        continue;
                bool wanted = !u && streq(port, text);
                /* The record says which device it is, plugged in or not (unplugged since enable);
                 * when it has no serial line and the entry names a serial, the device plugged in
                 * tells, when the record is its own. */
                r = u ? vc_usb_record_selected(cli->ctx, u, port) : 0;
                if (r == -ENOENT)
                        continue; /* disabled meanwhile */
                if (r == -ENODATA) {
                        struct vc_usb_dev d = { .group = -1 };
                        if (vc_usb_dev_read(cli->ctx, port, 0, &d) >= 0 && vc_usb_record_is_of(cli->ctx, &d) > 0) {
                                r = entry_selects(cli, u, &d, &wanted);
                                vc_usb_dev_done(&d);
                                if (r != EXIT_DONE) {
                                        code = EXIT_FAILED;
                                        continue;
                                }
                        } else {
                                vc_usb_dev_done(&d);
                                log_notice("%s: its record has no serial number, and the USB device it names is not "
                                           "plugged in there: cannot tell whether it is %s's ('vfio-claim disable %s' "
                                           "gives it back)", port, text, port);
                        }
                } else if (r < 0) {
                        log_error_errno(r, "%s: cannot read its record: %m ('vfio-claim disable %s' gives it back)",
                                        port, port);
                        code = EXIT_FAILED;
                        continue;
                } else if (u)
                        wanted = r > 0;
                if (!wanted)
                        continue;
                done++;
                if (cli->dry_run) {
                        printf("%s: its interfaces would go back to their drivers\n", port);
                        continue;
                }
                unsigned rv = 0, rp = 0;
                (void) vc_usb_record_id(cli->ctx, port, &rv, &rp); /* for the message, before it goes */
                r = vc_usb_disable(cli->ctx, port);
                if (r < 0) {
                        log_error_errno(r, "%s: failed to give the interfaces back to their drivers: %m", port);
                        code = EXIT_FAILED;
                } else if (r > 0)
                        log_notice("%s: its record names USB device %04x:%04x, unplugged from this port since; the "
                                   "device plugged in there now is not vfio-claim's and was left as it is; the "
                                   "record is removed", port, rv, rp);
                else
                        log_info("%s: disabled: its interfaces are back on their host drivers", port);
        }
        if (done == 0 && code == EXIT_DONE)
                log_notice(u ? "%s: no USB device this entry selects is enabled: nothing to do"
                             : "%s: no USB device is enabled at this port: nothing to do",
                           text);
        return code;
}

/* ------------------------------------------------------------------ add, remove */

/* What the <hostdev type='usb'> of @d selects: its ids, and its bus and device number when
 * another plugged-in device has the same ids (libvirt refuses to start a VM whose element selects
 * more than one; the number changes when the device is plugged in again). */
static struct vc_domain_usb usb_selector(const struct vc_usb_dev *d, const struct vc_usb_dev *all, size_t n) {
        struct vc_domain_usb u = { .has_ids = true, .vendor = d->vendor, .product = d->product };
        for (size_t i = 0; i < n; i++)
                if (&all[i] != d && !streq(all[i].port, d->port) && all[i].vendor == d->vendor &&
                    all[i].product == d->product) {
                        u.has_addr = true;
                        u.bus = d->busnum;
                        u.device = d->devnum;
                }
        return u;
}

static int usb_vm_edit_one(struct vc_cli *cli, virConnectPtr conn, virDomainPtr dom, const char *vm, const char *text,
                           const struct vc_usb_dev *d, const struct vc_domain_usb *sel, bool add) {
        _cleanup_free_ char *xml = NULL, *new_xml = NULL, *err = NULL, *after = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *check = NULL;
        int r;

        if (add) {
                _cleanup_(vc_virt_definitions_done) struct vc_virt_definitions defs = {};
                _cleanup_strv_free_ char **users = NULL;
                _cleanup_free_ char *names = NULL;
                size_t n = 0;
                if (vc_virt_definitions_read(conn, &defs) < 0)
                        return log_error("cannot list the VMs at %s to check that no other VM uses USB device %s: %s",
                                         cli->connect_uri, d->port, vc_virt_error()),
                               EXIT_FAILED;
                if (!(users = calloc(defs.n_domains + 1, sizeof *users)))
                        return log_error("out of memory"), EXIT_FAILED;
                for (size_t i = 0; i < defs.n_domains; i++)
                        if (!streq_ptr(defs.domains[i]->name, vm) && vc_domain_has_usb(defs.domains[i], sel) &&
                            !(users[n++] = strdup(defs.domains[i]->name)))
                                return log_error("out of memory"), EXIT_FAILED;
                if (n > 0 && !(names = vc_virt_names_join(users)))
                        return log_error("out of memory"), EXIT_FAILED;
                if (n > 0 && !cli->force)
                        return log_error("USB device %s (%04x:%04x) is already in the definition of %s: a passed-through "
                                         "device belongs to one VM; take it out there first (vfio-claim remove %s %s), "
                                         "or run again with --force",
                                         d->port, d->vendor, d->product, names, users[0], text),
                               EXIT_REFUSED;
                if (n > 0)
                        log_warning("USB device %s is also in the definition of %s; going on (--force): only one of "
                                    "them can run at a time", d->port, names);
        }

        xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        if (!xml)
                return log_error("VM %s: cannot read its definition: %s", vm, vc_virt_error()), EXIT_FAILED;
        r = vc_domain_edit_usb(xml, strlen(xml), sel, cli->startup_policy ?: "optional", add, &new_xml, &changed,
                               &err);
        if (r < 0)
                return log_error("VM %s: cannot edit its definition: %s", vm, err ? err : strerror(-r)), EXIT_FAILED;
        if (!changed[0]) {
                printf(add ? "VM %s already has USB device %s (%04x:%04x).\n" : "VM %s has no USB device %s (%04x:%04x).\n",
                       vm, d->port, d->vendor, d->product);
                return EXIT_DONE;
        }
        if (cli->dry_run) {
                printf("Would %s VM %s's definition (USB device %s):\n", add ? "add to" : "remove from", vm, d->port);
                for (char **c = changed; *c; c++)
                        printf("%s\n", *c);
                return EXIT_DONE;
        }
        if (virDomainIsActive(dom) > 0)
                return log_error("VM %s was started meanwhile; nothing was changed", vm), EXIT_REFUSED;
        virDomainPtr defined = virDomainDefineXML(conn, new_xml);
        if (!defined)
                return log_error("VM %s: libvirt refused the new definition: %s; nothing was changed", vm,
                                 vc_virt_error()),
                       EXIT_FAILED;
        virDomainFree(defined);
        after = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE);
        if (!after || vc_domain_parse(after, strlen(after), &check, NULL) < 0)
                return log_error("VM %s: cannot read back its definition: %s", vm, vc_virt_error()), EXIT_FAILED;
        if (vc_domain_has_usb(check, sel) != add)
                return log_error("VM %s: libvirt's stored definition %s USB device %s", vm, add ? "lacks" : "still has",
                                 d->port),
                       EXIT_FAILED;
        printf("VM %s: USB device %s (%04x:%04x) %s\n", vm, d->port, d->vendor, d->product, add ? "added" : "removed");
        for (char **c = changed; cli->verbose && *c; c++)
                printf("%s\n", *c);
        if (add && !vc_usb_is_enabled(cli->ctx, d->port))
                printf("Its interfaces still have host drivers: 'vfio-claim enable %s' takes them off.\n", text);
        return EXIT_DONE;
}

int usb_vm_edit(struct vc_cli *cli, const char *vm, const char *text, bool add) {
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = NULL;
        _cleanup_(vc_virt_domain_freep) virDomainPtr dom = NULL;
        struct vc_usb_dev *all = NULL, *v = NULL;
        size_t n_all = 0, n = 0;
        int r = usb_resolve(cli, text, 0, &v, &n);
        if (r != EXIT_DONE)
                return r;
        /* every plugged-in device, for its twins */
        if ((r = vc_usb_enumerate(cli->ctx, 0, &all, &n_all)) < 0) {
                vc_usb_devs_free(v, n);
                return log_error_errno(r, "cannot read the USB devices: %m"), EXIT_FAILED;
        }

        vc_virt_quiet();
        vc_xml_quiet();
        r = EXIT_DONE;
        conn = virConnectOpen(cli->connect_uri);
        if (!conn) {
                log_error("cannot connect to libvirt at %s: %s", cli->connect_uri, vc_virt_error());
                r = EXIT_FAILED;
        } else if (!(dom = virDomainLookupByName(conn, vm))) {
                log_error("%s: no such VM at %s: %s", vm, cli->connect_uri, vc_virt_error());
                r = EXIT_FAILED;
        } else if (virDomainIsPersistent(dom) == 0) {
                log_error("VM %s is transient: it has no definition to edit", vm);
                r = EXIT_FAILED;
        } else {
                int active = virDomainIsActive(dom);
                if (active < 0) {
                        log_error("VM %s: cannot tell whether it runs: %s", vm, vc_virt_error());
                        r = EXIT_FAILED;
                } else if (active > 0) {
                        log_error("VM %s is running; shut it down first (virsh shutdown %s), %s edits only a stopped VM",
                                  vm, vm, add ? "add" : "remove");
                        r = EXIT_REFUSED;
                }
        }
        for (size_t i = 0; i < n && r == EXIT_DONE; i++) {
                struct vc_domain_usb sel = usb_selector(&v[i], all, n_all);
                r = usb_vm_edit_one(cli, conn, dom, vm, text, &v[i], &sel, add);
        }
        vc_usb_devs_free(all, n_all);
        vc_usb_devs_free(v, n);
        return r;
}

/* ------------------------------------------------------------------ usb-reattach */

/* The <hostdev> that attaches @d to a running VM: its ids and its bus and device number now (the
 * number changed at the replug; it tells identical devices apart). */
static char *reattach_xml(const struct vc_usb_dev *d) {
        char *s;
        if (asprintf(&s,
                     "<hostdev mode='subsystem' type='usb' managed='no'><source><vendor id='0x%04x'/>"
                     "<product id='0x%04x'/><address bus='%u' device='%u'/></source></hostdev>",
                     d->vendor, d->product, d->busnum, d->devnum) < 0)
                return NULL;
        return s;
}

/* Does the domain's XML (@flags: 0 the running VM, VIR_DOMAIN_XML_INACTIVE its definition) list
 * @sel? 1 yes, 0 no, -EIO (logged) when it cannot be read. */
static int domain_lists_usb(virDomainPtr dom, const char *vm, unsigned flags, const struct vc_domain_usb *sel) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, flags), *err = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        if (!xml)
                return log_error("VM %s: cannot read its %s: %s", vm, flags ? "definition" : "live XML", vc_virt_error()),
                       -EIO;
        int r = vc_domain_parse(xml, strlen(xml), &d, &err);
        if (r < 0)
                return log_error("VM %s: cannot read its %s: %s", vm, flags ? "definition" : "live XML",
                                 err ? err : strerror(-r)),
                       -EIO;
        return vc_domain_has_usb(d, sel);
}

/* The running VM's <hostdev>s for @ids whose bus and device number is no device on the host any
 * more: what the VM had before the device was pulled out. libvirt keeps them and the VM's QEMU
 * keeps showing them to the guest (the lab's usb-passthrough scenario saw "info usb" list the
 * old device next to the new one), and each would take a port of the VM's controller: detach
 * them, live. A detach that fails is a warning; the attach goes on. */
static void detach_gone(struct vc_cli *cli, virDomainPtr dom, const char *vm, const struct vc_domain_usb *ids,
                        const char *what) {
        _cleanup_free_ char *xml = virDomainGetXMLDesc(dom, 0), *err = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        struct vc_usb_dev *all = NULL;
        size_t n_all = 0;
        if (!xml || vc_domain_parse(xml, strlen(xml), &d, &err) < 0 || vc_usb_enumerate(cli->ctx, 0, &all, &n_all) < 0)
                return; /* the attach below reads the live XML again and says what is wrong */
        for (size_t i = 0; i < d->n_usbs; i++) {
                const struct vc_domain_usb *u = &d->usbs[i];
                if (!u->has_ids || !u->has_addr || u->vendor != ids->vendor || u->product != ids->product)
                        continue;
                bool present = false;
                for (size_t k = 0; k < n_all && !present; k++)
                        present = all[k].busnum == u->bus && all[k].devnum == u->device && all[k].vendor == u->vendor &&
                                  all[k].product == u->product;
                if (present)
                        continue;
                _cleanup_free_ char *gone = reattach_xml(&(struct vc_usb_dev){
                        .vendor = u->vendor, .product = u->product, .busnum = u->bus, .devnum = u->device });
                if (!gone || virDomainDetachDeviceFlags(dom, gone, VIR_DOMAIN_AFFECT_LIVE) < 0)
                        log_warning("VM %s: cannot detach the %04x:%04x it had at bus %u device %u, which is gone: %s",
                                    vm, u->vendor, u->product, u->bus, u->device,
                                    gone ? vc_virt_error() : "out of memory");
                else
                        printf("VM %s: the %04x:%04x it had at bus %u device %u, which is gone, detached (%s is "
                               "attached next).\n",
                               vm, u->vendor, u->product, u->bus, u->device, what);
        }
        vc_usb_devs_free(all, n_all);
}

/* usb-reattach PORT: libvirt does not attach a USB device of a running VM again when it was
 * unplugged and plugged back. The generated udev rule (lib/boot.h) makes systemd start
 * vfio-claim-usb-reattach@PORT.service when a device a [usb NAME] entry with vm = selects is
 * plugged in; this attaches it to that VM, live, when the VM runs, its definition lists the
 * device, and its live XML does not list it at its bus and device number of now (what it lists
 * for a bus and device number that is gone is detached first, detach_gone()). Everything else is
 * left alone (exit 0, said on stdout). */
int verb_usb_reattach(struct vc_cli *cli, int argc, char **argv) {
        _cleanup_(vc_virt_connect_closep) virConnectPtr conn = NULL;
        _cleanup_(vc_virt_domain_freep) virDomainPtr dom = NULL;
        _cleanup_free_ char *xml = NULL;
        const char *port = argv[0];
        struct vc_usb_dev d;
        int r;
        (void) argc;

        if (!vc_usb_port_is_valid(port))
                return log_error("usb-reattach: \"%s\" is not a USB port path (such as 3-1.2)", port), EXIT_USAGE;
        r = vc_usb_dev_read(cli->ctx, port, 0, &d);
        if (r == -ENOENT || r == -EINVAL) {
                printf("No USB device (other than a hub) is plugged into port %s: nothing to attach.\n", port);
                return EXIT_DONE;
        }
        if (r < 0)
                return log_error_errno(r, "%s: cannot read the USB device: %m", port), EXIT_FAILED;

        const struct vc_config_usb *u = NULL;
        if ((r = vc_usb_config_match(cli->ctx, cli->config, &d, &u)) < 0) {
                log_error_errno(r, "%s: cannot read the serial number of USB device %04x:%04x%s: %m", port, d.vendor,
                                d.product, r == -ETIMEDOUT ? " (a driver holds the device: probing or resetting it)" : "");
                vc_usb_dev_done(&d);
                return EXIT_FAILED;
        }
        struct vc_domain_usb ids = { .has_ids = true, .vendor = d.vendor, .product = d.product };
        struct vc_domain_usb now = ids;
        now.has_addr = true;
        now.bus = d.busnum;
        now.device = d.devnum;
        char what[64];
        snprintf(what, sizeof what, "USB device %s (%04x:%04x)", port, d.vendor, d.product);
        vc_usb_dev_done(&d);

        if (!u || !u->vm) {
                printf("%s has no [usb NAME] entry with vm =: left alone.\n", what);
                return EXIT_DONE;
        }

        vc_virt_quiet();
        vc_xml_quiet();
        conn = virConnectOpen(cli->connect_uri);
        if (!conn)
                return log_error("cannot connect to libvirt at %s: %s", cli->connect_uri, vc_virt_error()), EXIT_FAILED;
        dom = virDomainLookupByName(conn, u->vm);
        if (!dom) {
                virErrorPtr e = virGetLastError();
                if (e && e->code == VIR_ERR_NO_DOMAIN)
                        return log_error("[usb %s] (%s:%u) names VM %s, which libvirt at %s does not know", u->name,
                                         u->file, u->line, u->vm, cli->connect_uri),
                               EXIT_FAILED;
                return log_error("VM %s: %s", u->vm, vc_virt_error()), EXIT_FAILED;
        }
        int active = virDomainIsActive(dom);
        if (active < 0)
                return log_error("VM %s: cannot tell whether it runs: %s", u->vm, vc_virt_error()), EXIT_FAILED;
        if (active == 0) {
                printf("VM %s is not running: %s ([usb %s]) left alone.\n", u->vm, what, u->name);
                return EXIT_DONE;
        }
        r = domain_lists_usb(dom, u->vm, VIR_DOMAIN_XML_INACTIVE, &ids);
        if (r < 0)
                return EXIT_FAILED;
        if (r == 0) {
                printf("VM %s's definition has no <hostdev> for %s: left alone ('vfio-claim add %s %s' adds it "
                       "while the VM is stopped).\n",
                       u->vm, what, u->vm, u->name);
                return EXIT_DONE;
        }
        r = domain_lists_usb(dom, u->vm, 0, &now);
        if (r < 0)
                return EXIT_FAILED;
        if (r > 0) {
                printf("VM %s has %s attached already: left alone.\n", u->vm, what);
                return EXIT_DONE;
        }
        detach_gone(cli, dom, u->vm, &ids, what);
        if (!(xml = reattach_xml(&(struct vc_usb_dev){ .vendor = now.vendor, .product = now.product,
                                                       .busnum = now.bus, .devnum = now.device })))
                return log_error("out of memory"), EXIT_FAILED;
        if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return log_error("VM %s: cannot attach %s again: %s", u->vm, what, vc_virt_error()), EXIT_FAILED;
        r = domain_lists_usb(dom, u->vm, 0, &now);
        if (r < 0)
                return EXIT_FAILED;
        if (r == 0)
                return log_error("VM %s: libvirt accepted %s, but the running VM does not list it", u->vm, what),
                       EXIT_FAILED;
        printf("VM %s: %s ([usb %s]) attached again.\n", u->vm, what, u->name);
        return EXIT_DONE;
}
