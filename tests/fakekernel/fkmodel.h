/* The fake kernel's model: the driver table and the device facts that
 * fakesys-mktree writes to ROOT/.fakekernel/model and the LD_PRELOAD shim
 * reads back.  Binding state is not kept here: it lives in the tree itself
 * (the `driver` links and `driver_override` files), as in sysfs. */
#pragma once

#include <stdbool.h>
#include <limits.h>

#define FK_MAX_DRIVERS 64
#define FK_MAX_IDS 64
#define FK_ANY 0xffffffffu

/* The reset methods of Linux 6.1 (pci_reset_fn_methods[] in drivers/pci/pci.c, slot 0 left
 * out), in the kernel's default order.  A device's reset_method holds at most
 * PCI_NUM_RESET_METHODS - 1 = FK_RESET_LIST_MAX entries. */
#define FK_RESET_METHODS 6
#define FK_RESET_LIST_MAX 6
extern const char *const fk_reset_names[FK_RESET_METHODS];

struct fk_id {
        unsigned vendor, device; /* device FK_ANY: VVVV:* */
};

struct fk_driver {
        char name[64];
        char module[64]; /* "" when built in */
        bool loaded;
        int n_ids;
        struct fk_id ids[FK_MAX_IDS];
};

struct fk_dev {
        char addr[16];
        char path[PATH_MAX / 4]; /* relative to ROOT: sys/devices/pci0000:00/... */
        unsigned vendor, device, class;
        int hdr;                 /* config header type: 0 endpoint, 1 bridge */
        int group;               /* -1: none */
        bool vfio_dev;           /* has vfio-dev/: bound to a vfio variant driver */
        bool removed;
        int n_resets;            /* supported reset methods; -1: no reset_method attribute */
        unsigned char resets[FK_RESET_LIST_MAX]; /* indices into fk_reset_names, fixture order */
};

struct fk_model {
        char root[PATH_MAX];
        int n_drivers, n_devs, cap_devs;
        struct fk_driver drivers[FK_MAX_DRIVERS];
        struct fk_dev *devs;     /* n_devs of cap_devs, on the heap: a tree has no size cap */
        /* The bytes of the model file the tables hold (read by fk_model_load() or written by
         * fk_model_save()); a load that reads the same bytes again keeps the tables instead of
         * parsing them.  cache_len 0: none. */
        char *cache;
        size_t cache_len;
};

/* A new, zeroed device at the end of the table (n_devs not yet counted); NULL when out of
 * memory.  Growing the table moves it: pointers into devs taken before are stale. */
struct fk_dev *fk_model_dev_slot(struct fk_model *m);
int fk_model_load(const char *root, struct fk_model *m);
int fk_model_save(struct fk_model *m);
/* The tables were changed and not saved: the next load parses the file again. */
void fk_model_forget(struct fk_model *m);

struct fk_driver *fk_driver_find(struct fk_model *m, const char *name);
struct fk_dev *fk_dev_find(struct fk_model *m, const char *addr);
struct fk_dev *fk_dev_find_path(struct fk_model *m, const char *relpath);
bool fk_driver_matches(const struct fk_driver *d, const struct fk_dev *dev);
int fk_id_parse(const char *s, struct fk_id *ret);
/* Index of a reset method name in fk_reset_names, or -1. */
int fk_reset_lookup(const char *name);
/* A comma-separated list of distinct method names ("" for none) into @ret (FK_RESET_LIST_MAX
 * entries); -EINVAL for an unknown name (*ret_bad points to it), -EEXIST for a repeated one. */
int fk_reset_parse(char *s, unsigned char *ret, int *ret_n, const char **ret_bad);

/* Tree operations; all return 0 or a negative errno. */
int fk_write_file(const char *path, const void *data, size_t n);
int fk_writef(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fk_mkdir_p(const char *path);
int fk_driver_materialize(struct fk_model *m, struct fk_driver *d);
int fk_bind(struct fk_model *m, struct fk_dev *dev, struct fk_driver *d);
int fk_unbind(struct fk_model *m, struct fk_dev *dev);
/* Current driver name ("" when unbound). */
void fk_dev_driver(const struct fk_model *m, const struct fk_dev *dev, char *ret, size_t n);
/* Current override ("" when unset). */
void fk_dev_override(const struct fk_model *m, const struct fk_dev *dev, char *ret, size_t n);
int fk_dev_set_override(const struct fk_model *m, const struct fk_dev *dev, const char *name);
/* Make reset_method show @list (reset_method_show(): the names joined by spaces and a newline;
 * nothing at all for an empty list). */
int fk_dev_set_reset_method(const struct fk_model *m, const struct fk_dev *dev, const unsigned char *list, int n);
/* Make ROOT/dev/vfio/N follow the group's bindings. */
int fk_vfio_group_update(struct fk_model *m, int group);
/* Relative symlink target from directory `from_dir` to `to`, both relative to ROOT. */
void fk_relpath(const char *from_dir, const char *to, char *ret, size_t n);
