/* SPDX-License-Identifier: LGPL-2.1-or-later */

/* Domain XML: which PCI functions of the host a domain asks for, and the edit of add/remove. */

#include <fcntl.h>
#include <sys/stat.h>

#include "domain-xml.h"
#include "tests.h"

#ifndef DOMAIN_FIXTURES
#error "DOMAIN_FIXTURES must name tests/fixtures/domains"
#endif

static char *slurp(const char *name, size_t *ret_len) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", DOMAIN_FIXTURES, name);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = malloc(VC_DOMAIN_XML_MAX + 1);
        size_t n = buf ? fread(buf, 1, VC_DOMAIN_XML_MAX, f) : 0;
        fclose(f);
        if (buf)
                buf[n] = 0;
        *ret_len = n;
        return buf;
}

/* Parse fixture @name: returns the parser's result, the domain in *ret and the message in *err. */
static int parse_fixture(const char *name, struct vc_domain **ret, char **err) {
        size_t len = 0;
        _cleanup_free_ char *buf = slurp(name, &len);
        if (!buf)
                return -ENOENT;
        return vc_domain_parse(buf, len, ret, err);
}

static int parse_str(const char *s, struct vc_domain **ret, char **err) {
        return vc_domain_parse(s, strlen(s), ret, err);
}

#define ADDR(d, b, s, f) ((struct vc_pci_addr){ .domain = (d), .bus = (b), .slot = (s), .func = (f) })

TEST(virt_manager_managed_yes) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_OK(parse_fixture("virt-manager.xml", &d, &err));
        ASSERT_STREQ(d->name, "win11");
        ASSERT_EQ(d->n_hostdevs, 1);
        ASSERT_EQ(d->hostdevs[0].kind, VC_HOSTDEV_PCI);
        ASSERT_TRUE(d->hostdevs[0].managed);
        /* The host address under <source>, not the guest address next to it (bus 0x05). */
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[0].addr), "0000:01:00.0");
        ASSERT_TRUE(vc_domain_has_hostdev(d, &ADDR(0, 1, 0, 0)));
        ASSERT_FALSE(vc_domain_has_hostdev(d, &ADDR(0, 5, 0, 0)));
}

TEST(virsh_managed_no_decimal) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_OK(parse_fixture("virsh.xml", &d, NULL));
        ASSERT_STREQ(d->name, "builder");
        ASSERT_EQ(d->n_hostdevs, 1);
        ASSERT_FALSE(d->hostdevs[0].managed);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[0].addr), "0000:03:00.0");
}

TEST(multifunction_gpu_audio) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_OK(parse_fixture("gpu-audio.xml", &d, NULL));
        ASSERT_STREQ(d->name, "gaming");
        ASSERT_EQ(d->n_hostdevs, 2);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[0].addr), "0000:01:00.0");
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[1].addr), "0000:01:00.1");
}

TEST(interface_hostdev) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_OK(parse_fixture("interface-hostdev.xml", &d, NULL));
        ASSERT_EQ(d->n_hostdevs, 1);
        ASSERT_EQ(d->hostdevs[0].kind, VC_HOSTDEV_INTERFACE);
        ASSERT_TRUE(d->hostdevs[0].managed);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[0].addr), "0000:03:00.0");
        ASSERT_STREQ(vc_hostdev_kind_to_string(d->hostdevs[0].kind), "interface");
}

TEST(no_hostdevs) {
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_OK(parse_fixture("no-hostdev.xml", &d, NULL));
        ASSERT_STREQ(d->name, "plain");
        ASSERT_EQ(d->n_hostdevs, 0);
}

TEST(usb_and_mdev_ignored) {
        _cleanup_(vc_domain_freep) struct vc_domain *u = NULL, *m = NULL;
        ASSERT_OK(parse_fixture("usb.xml", &u, NULL));
        ASSERT_EQ(u->n_hostdevs, 0);
        ASSERT_OK(parse_fixture("mdev.xml", &m, NULL));
        ASSERT_EQ(m->n_hostdevs, 0);
}

TEST(malformed_xml) {
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_ERRNO(parse_fixture("malformed.xml", &d, &err), EBADMSG);
        ASSERT_NULL(d);
        ASSERT_NOT_NULL(err);
        /* The first error, where the mistake is, not the consequences at the end. */
        ASSERT_STREQ(err, "line 7: malformed XML: Opening and ending tag mismatch: source line 5 and hostdev");
}

TEST(bad_address_fixture) {
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_ERRNO(parse_fixture("bad-address.xml", &d, &err), EBADMSG);
        ASSERT_STREQ(err, "line 6: <hostdev> source <address bus='0x100'>: out of range (at most 0xff)");
}

/* The message goes to the hook's stderr, which libvirt shows as one line: libxml2's own
 * multi-line messages are joined, and control characters from the document (character
 * references) are escaped rather than sent to a terminal. */
TEST(error_is_one_line_not_utf8) {
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_ERRNO(parse_str("<domain><name>t\xbe\xd0\x8a\x8c</name></domain>", &d, &err), EBADMSG);
        ASSERT_NOT_NULL(err);
        ASSERT_TRUE(strncmp(err, "line 1: malformed XML: Input is not proper UTF-8", 48) == 0);
        for (const char *p = err; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        FAIL_AT("control character 0x%02x in \"%s\"", (unsigned) *p, err);
}

TEST(error_escapes_control_characters) {
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_ERRNO(parse_str("<domain><name>t</name><devices><hostdev mode='subsystem' type='pci' "
                               "managed='&#10;x&#9;y&#13;'><source><address bus='1'/></source></hostdev>"
                               "</devices></domain>", &d, &err), EBADMSG);
        ASSERT_STREQ(err, "line 1: <hostdev managed='\\x0ax\\x09y\\x0d'>: expected yes or no");
}

/* Found by fuzzing: libxml2 writes a namespace name back unescaped, so a character reference
 * that puts '<' (or a control character) there made an edited document that does not parse.
 * An edit refuses such a document; reading it (the hook) goes on. */
TEST(edit_refuses_namespace_that_is_not_a_uri) {
        static const char xml[] = "<domain><name>t</name><devices>\n<hostdev mode='subsystem' type='pci' "
                                  "xmlns:d='&#60;x&#9;y'><source><address bus='1'/></source></hostdev>"
                                  "</devices></domain>";
        _cleanup_free_ char *out = NULL, *err = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_ERRNO(vc_domain_edit_hostdevs(xml, strlen(xml), &ADDR(0, 2, 0, 0), 1, true, &out, &changed, &err), EBADMSG);
        ASSERT_STREQ(err, "line 2: xmlns:d on <hostdev> is not a URI (it has '<', '&', '\"' or a control character)");
        ASSERT_NULL(out);
        ASSERT_OK(vc_domain_parse(xml, strlen(xml), &d, NULL));
        ASSERT_EQ(d->n_hostdevs, 1u);
}

#define HOSTDEV(attrs)                                                                          \
        "<domain><name>t</name><devices><hostdev mode='subsystem' type='pci'><source><address " \
        attrs "/></source></hostdev></devices></domain>"

TEST(address_values) {
        static const struct {
                const char *xml;
                int error;
                const char *expect; /* address or message */
        } cases[] = {
                { HOSTDEV("domain='0x0000' bus='0x01' slot='0x1f' function='0x7'"), 0, "0000:01:1f.7" },
                { HOSTDEV("domain='0' bus='255' slot='31' function='7'"), 0, "0000:ff:1f.7" },
                { HOSTDEV("bus='0X0a' slot='0x1F'"), 0, "0000:0a:1f.0" },
                { HOSTDEV("domain='0xffff' bus='0x0' slot='0' function='0'"), 0, "ffff:00:00.0" },
                /* strtoul with base 0, as libvirt reads it: a leading 0 is octal. */
                { HOSTDEV("bus='010' slot='0'"), 0, "0000:08:00.0" },
                { HOSTDEV("bus='0x01' slot='0x20'"), EBADMSG,
                  "line 1: <hostdev> source <address slot='0x20'>: out of range (at most 0x1f)" },
                { HOSTDEV("bus='0x01' slot='0' function='8'"), EBADMSG,
                  "line 1: <hostdev> source <address function='8'>: out of range (at most 0x7)" },
                { HOSTDEV("domain='0x10000' bus='1'"), EBADMSG,
                  "line 1: <hostdev> source <address domain='0x10000'>: out of range (at most 0xffff)" },
                { HOSTDEV("bus='-1'"), EBADMSG, "line 1: <hostdev> source <address bus='-1'>: not a number" },
                { HOSTDEV("bus='1x'"), EBADMSG, "line 1: <hostdev> source <address bus='1x'>: not a number" },
                { HOSTDEV("bus=' 1'"), EBADMSG, "line 1: <hostdev> source <address bus=' 1'>: not a number" },
                { HOSTDEV("bus='0x'"), EBADMSG, "line 1: <hostdev> source <address bus='0x'>: not a number" },
                { HOSTDEV("bus='09'"), EBADMSG, "line 1: <hostdev> source <address bus='09'>: not a number" },
                { HOSTDEV("bus=''"), EBADMSG, "line 1: <hostdev> source <address bus=''>: not a number" },
                { HOSTDEV("bus='99999999999999999999'"), EBADMSG,
                  "line 1: <hostdev> source <address bus='99999999999999999999'>: out of range (at most 0xff)" },
                { HOSTDEV("type='usb' bus='1'"), EBADMSG,
                  "line 1: <hostdev> source <address type='usb'>: not a PCI address" },
                { HOSTDEV("type='pci' bus='1'"), 0, "0000:01:00.0" },
                { HOSTDEV(""), EBADMSG, "line 1: <hostdev> source <address>: no domain, bus, slot or function" },
                { "<domain><name>t</name><devices><hostdev mode='subsystem' type='pci'></hostdev></devices></domain>",
                  EBADMSG, "line 1: <hostdev> has no <source>" },
                { "<domain><name>t</name><devices><hostdev mode='subsystem' type='pci'><source/></hostdev></devices></domain>",
                  EBADMSG, "line 1: <hostdev> <source> has no <address>" },
                { "<domain><name>t</name><devices><hostdev mode='subsystem' type='pci' managed='maybe'><source><address bus='1'/></source></hostdev></devices></domain>",
                  EBADMSG, "line 1: <hostdev managed='maybe'>: expected yes or no" },
                { "<domain><name>t</name><devices><interface type='hostdev'><source><address type='pci' bus='0x300'/></source></interface></devices></domain>",
                  EBADMSG, "line 1: <interface> source <address bus='0x300'>: out of range (at most 0xff)" },
                { "<domain><devices/></domain>", EBADMSG, "<domain> has no <name>" },
                { "<network><name>default</name></network>", EBADMSG, "the root element is <network>, not <domain>" },
                { "", EBADMSG, "the domain XML is empty" },
                { "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x 'y'>]><domain><name>&x;</name></domain>",
                  EBADMSG, "a domain XML must not have a DOCTYPE" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
                _cleanup_free_ char *err = NULL;
                int r = parse_str(cases[i].xml, &d, &err);
                if (r != -cases[i].error)
                        FAIL_AT("case %zu: returned %d (%s), expected %d", i, r, strna(err), -cases[i].error);
                if (r == 0) {
                        if (d->n_hostdevs != 1)
                                FAIL_AT("case %zu: %zu hostdevs", i, d->n_hostdevs);
                        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[0].addr), cases[i].expect);
                        ASSERT_FALSE(d->hostdevs[0].managed);
                } else
                        ASSERT_STREQ(err, cases[i].expect);
        }
}

TEST(external_entities_never_loaded) {
        /* An external entity or DTD would need the network or the file system: never fetched,
         * the document is refused for its DOCTYPE. */
        static const char xml[] =
                "<?xml version='1.0'?>\n"
                "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:9/evil.dtd'>\n"
                "<domain><name>t</name></domain>\n";
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_ERRNO(parse_str(xml, &d, &err), EBADMSG);
        ASSERT_STREQ(err, "a domain XML must not have a DOCTYPE");
}

TEST(size_limit) {
        size_t len = VC_DOMAIN_XML_MAX + 1;
        _cleanup_free_ char *big = malloc(len);
        struct vc_domain *d = NULL;
        _cleanup_free_ char *err = NULL;
        ASSERT_NOT_NULL(big);
        memset(big, ' ', len);
        ASSERT_ERRNO(vc_domain_parse(big, len, &d, &err), EFBIG);
        ASSERT_NOT_NULL(err);
}

TEST(hostdev_xml) {
        _cleanup_free_ char *s = NULL;
        ASSERT_OK(vc_domain_hostdev_xml(&ADDR(0, 1, 0, 1), NULL, false, &s));
        ASSERT_STREQ(s, "<hostdev mode='subsystem' type='pci' managed='no'>\n"
                        "  <source>\n"
                        "    <address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>\n"
                        "  </source>\n"
                        "</hostdev>");
}

TEST(edit_add_idempotent) {
        size_t len = 0;
        _cleanup_free_ char *in = slurp("gpu-only.xml", &len);
        _cleanup_free_ char *out = NULL, *out2 = NULL;
        _cleanup_strv_free_ char **changed = NULL, **changed2 = NULL;
        const struct vc_pci_addr addrs[] = { ADDR(0, 1, 0, 0), ADDR(0, 1, 0, 1) };
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;

        ASSERT_NOT_NULL(in);
        ASSERT_OK(vc_domain_edit_hostdevs(in, len, addrs, 2, true, &out, &changed, NULL));
        /* 01:00.0 is there already (managed='yes'): only the audio function is added. */
        ASSERT_NOT_NULL(changed);
        ASSERT_NOT_NULL(changed[0]);
        ASSERT_NULL(changed[1]);
        ASSERT_NOT_NULL(strstr(changed[0], "function='0x1'"));
        ASSERT_OK(vc_domain_parse(out, strlen(out), &d, NULL));
        ASSERT_EQ(d->n_hostdevs, 2);
        ASSERT_TRUE(d->hostdevs[0].managed);
        ASSERT_FALSE(d->hostdevs[1].managed);
        ASSERT_STREQ(VC_PCI_ADDR_TO_STRING(&d->hostdevs[1].addr), "0000:01:00.1");
        /* Everything else survives. */
        ASSERT_NOT_NULL(strstr(out, "<emulator>/usr/bin/qemu-system-x86_64</emulator>"));

        ASSERT_OK(vc_domain_edit_hostdevs(out, strlen(out), addrs, 2, true, &out2, &changed2, NULL));
        ASSERT_NOT_NULL(changed2);
        ASSERT_NULL(changed2[0]);
}

TEST(edit_add_interface_counts_as_present) {
        size_t len = 0;
        _cleanup_free_ char *in = slurp("interface-hostdev.xml", &len);
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        ASSERT_NOT_NULL(in);
        ASSERT_OK(vc_domain_edit_hostdevs(in, len, &ADDR(0, 3, 0, 0), 1, true, &out, &changed, NULL));
        ASSERT_NULL(changed[0]);
}

TEST(edit_remove) {
        size_t len = 0;
        _cleanup_free_ char *in = slurp("gpu-audio.xml", &len);
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        const struct vc_pci_addr addrs[] = { ADDR(0, 1, 0, 0), ADDR(0, 1, 0, 1) };

        ASSERT_NOT_NULL(in);
        ASSERT_OK(vc_domain_edit_hostdevs(in, len, addrs, 2, false, &out, &changed, NULL));
        ASSERT_NOT_NULL(changed[0]);
        ASSERT_NOT_NULL(changed[1]);
        ASSERT_NULL(changed[2]);
        ASSERT_TRUE(strncmp(changed[0], "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\">", 50) == 0 ||
                    strncmp(changed[0], "<hostdev mode='subsystem'", 25) == 0);
        ASSERT_OK(vc_domain_parse(out, strlen(out), &d, NULL));
        ASSERT_EQ(d->n_hostdevs, 0);
        ASSERT_NOT_NULL(strstr(out, "<emulator>"));
}

/* A GPU and its audio function on q35: one new PCIe root port, one guest slot, functions 0 and 1,
 * multifunction='on' on 0; remove takes both out and the emptied root port with them. */
TEST(edit_add_one_slot_q35) {
        size_t len = 0;
        _cleanup_free_ char *in = slurp("no-hostdev.xml", &len);
        _cleanup_free_ char *out = NULL, *back = NULL;
        _cleanup_strv_free_ char **changed = NULL, **removed = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        const struct vc_pci_addr addrs[] = { ADDR(0, 1, 0, 1), ADDR(0, 1, 0, 0), ADDR(0, 2, 0, 0) };

        ASSERT_NOT_NULL(in);
        ASSERT_OK(vc_domain_edit_hostdevs(in, len, addrs, 3, true, &out, &changed, NULL));
        ASSERT_STREQ(changed[0], "<controller type=\"pci\" index=\"1\" model=\"pcie-root-port\"/>");
        ASSERT_NOT_NULL(strstr(changed[1], "function='0x0'/>\n  </source>\n"
                                           "  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0' multifunction='on'/>"));
        ASSERT_NOT_NULL(strstr(changed[2], "function='0x1'/>\n  </source>\n"
                                           "  <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x1'/>"));
        /* A single-function device is left to libvirt's placement. */
        ASSERT_NULL(strstr(changed[3], "<address type='pci'"));
        ASSERT_NULL(changed[4]);
        ASSERT_NOT_NULL(strstr(out, "<address type=\"pci\" domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x0\" multifunction=\"on\"/>"));
        ASSERT_OK(vc_domain_parse(out, strlen(out), &d, NULL));
        ASSERT_EQ(d->n_hostdevs, 3);

        ASSERT_OK(vc_domain_edit_hostdevs(out, strlen(out), addrs, 2, false, &back, &removed, NULL));
        ASSERT_NOT_NULL(removed[2]);
        ASSERT_STREQ(removed[2], "<controller type=\"pci\" index=\"1\" model=\"pcie-root-port\"/>");
        ASSERT_NULL(removed[3]);
        ASSERT_NULL(strstr(back, "pcie-root-port"));
        ASSERT_NULL(strstr(back, "bus=\"0x01\""));
}

/* Not q35: the first free slot from 3 of the root bus; a root port something else still sits on
 * stays. */
TEST(edit_add_one_slot_pc) {
        static const char xml[] =
                "<domain type='kvm'><name>old</name><os><type machine='pc-i440fx-7.2'>hvm</type></os><devices>"
                "<controller type='pci' index='0' model='pci-root'/>"
                "<video><model type='vga'/><address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/></video>"
                "<disk type='file'><address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></disk>"
                "<interface type='hostdev'><source><address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></source></interface>"
                "</devices></domain>";
        _cleanup_free_ char *out = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        const struct vc_pci_addr addrs[] = { ADDR(0, 1, 0, 0), ADDR(0, 1, 0, 1) };
        ASSERT_OK(vc_domain_edit_hostdevs(xml, strlen(xml), addrs, 2, true, &out, &changed, NULL));
        /* Slot 4 is the host address of the interface, not a guest slot. */
        ASSERT_NOT_NULL(strstr(changed[0], "bus='0x00' slot='0x04' function='0x0' multifunction='on'/>"));
        ASSERT_NOT_NULL(strstr(changed[1], "bus='0x00' slot='0x04' function='0x1'/>"));
        ASSERT_NULL(changed[2]);
        ASSERT_NULL(strstr(out, "pcie-root-port"));
}

/* Which 64-bit MMIO window a definition gives its devices (vc_domain_mmio64_window()). */
TEST(mmio64_window) {
        static const struct {
                const char *os, *extra;
                uint64_t window;
        } cases[] = {
                { "<os><type>hvm</type></os>", "", 0 }, /* SeaBIOS: no fixed window */
                { "<os firmware='efi'><type>hvm</type></os>", "", UINT64_C(32) << 30 },
                { "<os><type>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader></os>", "",
                  UINT64_C(32) << 30 },
                /* 46 bits count with 1 GiB pages (a model that has them, or the feature required) */
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu mode='custom'><model>Skylake-Server-IBRS</model><maxphysaddr mode='emulate' bits='46'/></cpu>",
                  UINT64_C(1) << 43 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu><model>EPYC-Rome</model><maxphysaddr mode='emulate' bits='52'/></cpu>", UINT64_C(1) << 43 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu><model>Haswell</model><feature name='pdpe1gb'/><maxphysaddr mode='emulate' bits='46'/></cpu>",
                  UINT64_C(1) << 43 },
                /* without them only 40: 2^40 / 8 = 128 GiB */
                { "<os firmware='efi'><type>hvm</type></os>", "<cpu><maxphysaddr mode='emulate' bits='46'/></cpu>",
                  UINT64_C(128) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu mode='custom'><model>Haswell-noTSX</model><maxphysaddr mode='emulate' bits='46'/></cpu>",
                  UINT64_C(128) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu><model>EPYC</model><feature policy='disable' name='pdpe1gb'/><maxphysaddr mode='emulate' bits='46'/></cpu>",
                  UINT64_C(128) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu><model>NoSuchModel</model><maxphysaddr mode='emulate' bits='46'/></cpu>", UINT64_C(128) << 30 },
                /* the host's CPU: the host has no 1 GiB pages in these cases (see mmio64_window_host) */
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<cpu mode='host-passthrough'><maxphysaddr mode='emulate' bits='44'/></cpu>", UINT64_C(128) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>", "<cpu><maxphysaddr mode='emulate' bits='39'/></cpu>",
                  UINT64_C(32) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>", "<cpu mode='host-passthrough'><maxphysaddr mode='passthrough'/></cpu>",
                  UINT64_C(32) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-fw_cfg'/>"
                  "<qemu:arg value='name=opt/ovmf/X-PciMmio64Mb,string=65536'/></qemu:commandline>",
                  UINT64_C(64) << 30 },
                /* Not after -fw_cfg, or not in the QEMU namespace: not counted. */
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"
                  "<qemu:arg value='opt/ovmf/X-PciMmio64Mb,string=65536'/></qemu:commandline>",
                  UINT64_C(32) << 30 },
                { "<os firmware='efi'><type>hvm</type></os>",
                  "<commandline><arg value='-fw_cfg'/><arg value='opt/ovmf/X-PciMmio64Mb,string=65536'/></commandline>",
                  UINT64_C(32) << 30 },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *xml = NULL;
                _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
                ASSERT_TRUE(asprintf(&xml, "<domain type='kvm'><name>v</name>%s%s<devices/></domain>", cases[i].os,
                                     cases[i].extra) > 0);
                ASSERT_OK(vc_domain_parse(xml, strlen(xml), &d, NULL));
                ASSERT_EQ(vc_domain_mmio64_window(d, false), cases[i].window);
        }
}

/* A guest CPU that is the host's has 1 GiB pages when the host's has them. */
TEST(mmio64_window_host) {
        static const char *const cpus[] = {
                "<cpu mode='host-passthrough'><maxphysaddr mode='emulate' bits='44'/></cpu>",
                "<cpu mode='host-model'><maxphysaddr mode='emulate' bits='44'/></cpu>",
                "<cpu mode='maximum'><maxphysaddr mode='emulate' bits='44'/></cpu>",
                "<cpu><model>Haswell</model><feature policy='optional' name='pdpe1gb'/><maxphysaddr mode='emulate' bits='44'/></cpu>",
        };
        for (size_t i = 0; i < ELEMENTSOF(cpus); i++) {
                _cleanup_free_ char *xml = NULL;
                _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
                ASSERT_TRUE(asprintf(&xml, "<domain type='kvm'><name>v</name><os firmware='efi'><type>hvm</type></os>%s<devices/></domain>",
                                     cpus[i]) > 0);
                ASSERT_OK(vc_domain_parse(xml, strlen(xml), &d, NULL));
                ASSERT_EQ(vc_domain_mmio64_window(d, true), UINT64_C(1) << 41);
                ASSERT_EQ(vc_domain_mmio64_window(d, false), UINT64_C(128) << 30);
        }
        /* host-passthrough with the feature disabled: never */
        static const char xml[] = "<domain type='kvm'><name>v</name><os firmware='efi'><type>hvm</type></os>"
                                  "<cpu mode='host-passthrough'><feature policy='disable' name='pdpe1gb'/>"
                                  "<maxphysaddr mode='emulate' bits='44'/></cpu><devices/></domain>";
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL;
        ASSERT_OK(vc_domain_parse(xml, strlen(xml), &d, NULL));
        ASSERT_EQ(vc_domain_mmio64_window(d, true), UINT64_C(128) << 30);
}

/* The fix: the namespace declared once, the arguments added, or the value replaced. */
TEST(edit_mmio64) {
        static const char xml[] = "<domain type='kvm'><name>v</name><os firmware='efi'><type>hvm</type></os><devices/></domain>";
        _cleanup_free_ char *out = NULL, *out2 = NULL, *el = NULL, *el2 = NULL;
        _cleanup_(vc_domain_freep) struct vc_domain *d = NULL, *d2 = NULL;
        ASSERT_OK(vc_domain_edit_mmio64(xml, strlen(xml), 131072, &out, &el, NULL));
        ASSERT_STREQ(el, "<qemu:commandline><qemu:arg value=\"-fw_cfg\"/><qemu:arg value=\"opt/ovmf/X-PciMmio64Mb,string=131072\"/></qemu:commandline>");
        ASSERT_NOT_NULL(strstr(out, "xmlns:qemu=\"http://libvirt.org/schemas/domain/qemu/1.0\""));
        ASSERT_OK(vc_domain_parse(out, strlen(out), &d, NULL));
        ASSERT_EQ(vc_domain_mmio64_window(d, false), UINT64_C(128) << 30);
        ASSERT_OK(vc_domain_edit_mmio64(out, strlen(out), 262144, &out2, &el2, NULL));
        ASSERT_STREQ(el2, "<qemu:commandline><qemu:arg value=\"-fw_cfg\"/><qemu:arg value=\"opt/ovmf/X-PciMmio64Mb,string=262144\"/></qemu:commandline>");
        ASSERT_OK(vc_domain_parse(out2, strlen(out2), &d2, NULL));
        ASSERT_EQ(vc_domain_mmio64_window(d2, false), UINT64_C(256) << 30);
}

/* <rom>: on the named function only, replacing the one it had; attributes only when given. */
TEST(edit_rom) {
        static const char xml[] =
                "<domain type='kvm'><name>v</name><devices>"
                "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></source><rom bar='on'/></hostdev>"
                "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' slot='0x00' function='0x1'/></source></hostdev>"
                "</devices></domain>";
        _cleanup_free_ char *out = NULL, *el = NULL, *out2 = NULL, *el2 = NULL, *out3 = NULL, *el3 = NULL;
        ASSERT_OK(vc_domain_edit_rom(xml, strlen(xml), &ADDR(0, 1, 0, 0), "/var/lib/libvirt/vbios/gpu.rom", NULL, &out, &el, NULL));
        ASSERT_STREQ(el, "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\"><source><address domain=\"0x0000\" bus=\"0x01\" slot=\"0x00\" function=\"0x0\"/></source><rom file=\"/var/lib/libvirt/vbios/gpu.rom\"/></hostdev>");
        ASSERT_NULL(strstr(out, "bar="));
        ASSERT_OK(vc_domain_edit_rom(out, strlen(out), &ADDR(0, 1, 0, 0), "/r.rom", "off", &out2, &el2, NULL));
        ASSERT_NOT_NULL(strstr(el2, "<rom bar=\"off\" file=\"/r.rom\"/>"));
        ASSERT_NULL(strstr(out2, "gpu.rom"));
        /* the audio function keeps no <rom> */
        ASSERT_NOT_NULL(strstr(out2, "function=\"0x1\"/></source></hostdev>"));
        ASSERT_ERRNO(vc_domain_edit_rom(xml, strlen(xml), &ADDR(0, 2, 0, 0), "/r.rom", NULL, &out3, &el3, NULL), ENOENT);
}

TEST(edit_rejects_malformed) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        static const char xml[] = "<domain><name>x</name><devices>";
        ASSERT_ERRNO(vc_domain_edit_hostdevs(xml, strlen(xml), &ADDR(0, 1, 0, 0), 1, true, &out, NULL, &err),
                     EBADMSG);
        ASSERT_NULL(out);
        ASSERT_NOT_NULL(err);
}

int main(int argc, char **argv) { return tests_run_argv(argc, argv); }
