#!/usr/bin/env bats
# vfio-claim export --format nova|kubevirt|proxmox [--json], and the host identity of list --json.
# Each format's output is checked against the target's documented fields and types; the facts
# (and where they come from) are listed at the top of src/verb-export.c.

load helpers

# A GPU host: gpu (01:00.0) claimed, gpu-audio (01:00.1, by id) claimed with it, "ghost" names
# a device this host does not have.
setup_gpu_host() {
        fake_root gpu-audio
        mkdir -p "$CONF/conf.d" "$ROOT/etc"
        printf '[device gpu]\nmatch = 0000:01:00.0\n[device gpu-audio]\nmatch = 10de:1aef\n[device ghost]\nmatch = 0000:09:00.0\n' \
                >"$CONF/conf.d/gpu.conf"
        echo 'pve1.example.org' >"$ROOT/etc/hostname"
        echo '0123456789abcdef0123456789abcdef' >"$ROOT/etc/machine-id"
}

claim_gpu() {
        run vc enable 0000:01:00.0
        assert_success
}

@test "export --format nova: device_spec and alias lines, each a JSON object Nova's schema accepts" {
        setup_gpu_host
        claim_gpu
        run --separate-stderr vc export --format nova
        assert_success
        [ -z "$stderr" ]
        # A section nova.conf takes, comments first.
        grep -qx '\[pci\]' <<<"$output"
        assert_equal "$(grep -c '^device_spec = ' <<<"$output")" 2
        assert_equal "$(grep -c '^alias = ' <<<"$output")" 2
        ! grep -v '^#' <<<"$output" | grep -v '^\[pci\]$' | grep -q -v '^device_spec = \|^alias = '
        nova=$output
        # device_spec: vendor_id/product_id hex strings, address a string, nothing else (no
        # physical_network: left to the admin).
        run jq -sc 'map(select(keys != ["address","product_id","vendor_id"])) | length' \
                < <(sed -n 's/^device_spec = //p' <<<"$nova")
        assert_output 0
        sed -n 's/^device_spec = //p' <<<"$nova" | jq -c . >"$BATS_TEST_TMPDIR/spec"
        run cat "$BATS_TEST_TMPDIR/spec"
        assert_output '{"vendor_id":"10de","product_id":"2204","address":"0000:01:00.0"}
{"vendor_id":"10de","product_id":"1aef","address":"0000:01:00.1"}'
        # alias: nova/pci/request.py _ALIAS_SCHEMA (additionalProperties false): name 1..256,
        # vendor_id/product_id 4 hex digits, device_type in type-PCI/type-PF/type-VF.
        sed -n 's/^alias = //p' <<<"$nova" >"$BATS_TEST_TMPDIR/alias"
        run jq -s -c '[.[] | select(
                ((keys - ["name","vendor_id","product_id","device_type","numa_policy","resource_class","traits","live_migratable","capability_type"]) | length) == 0
                and (.name | type == "string" and length >= 1 and length <= 256)
                and (.vendor_id | test("^[0-9a-fA-F]{4}$"))
                and (.product_id | test("^[0-9a-fA-F]{4}$"))
                and (.device_type | IN("type-PCI","type-PF","type-VF")))] | length' "$BATS_TEST_TMPDIR/alias"
        assert_output 2
        run jq -c '[.name, .vendor_id, .product_id, .device_type]' "$BATS_TEST_TMPDIR/alias"
        assert_output '["gpu","10de","2204","type-PCI"]
["gpu-audio","10de","1aef","type-PCI"]'
}

@test "export --format kubevirt: permittedHostDevices.pciHostDevices with KubeVirt's field types" {
        setup_gpu_host
        claim_gpu
        run --separate-stderr vc export --format kubevirt
        assert_success
        [ -z "$stderr" ]
        assert_output --partial '# Merge into spec.configuration of the KubeVirt CR'
        # The YAML, exactly (comments aside).
        run grep -v '^#' <<<"$output"
        assert_output 'permittedHostDevices:
  pciHostDevices:
  - pciVendorSelector: "10de:2204"
    resourceName: "vfio-claim/gpu"
    externalResourceProvider: false
  - pciVendorSelector: "10de:1aef"
    resourceName: "vfio-claim/gpu-audio"
    externalResourceProvider: false'
        # --json: the same entries; V1PciHostDevice: pciVendorSelector and resourceName strings
        # (required), externalResourceProvider a boolean; the resource name is an extended
        # resource name PREFIX/NAME with NAME a qualified name.
        run vc export --format kubevirt --json
        assert_success
        run jq -c '.kubevirt.permittedHostDevices.pciHostDevices | map(select(
                (keys == ["externalResourceProvider","pciVendorSelector","resourceName"])
                and (.pciVendorSelector | test("^[0-9a-f]{4}:[0-9a-f]{4}$"))
                and (.resourceName | test("^[a-z0-9.-]+/[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"))
                and (.externalResourceProvider == false))) | length' <<<"$output"
        assert_output 2
}

@test "export --format proxmox: a mapping/pci.cfg stanza whose map entries match PVE::Mapping::PCI" {
        setup_gpu_host
        claim_gpu
        run --separate-stderr vc export --format proxmox
        assert_success
        [ -z "$stderr" ]
        printf -v want 'gpu\n\tmap id=10de:2204,iommugroup=1,node=pve1,path=0000:01:00.0,subsystem-id=1458:403b\n\ngpu-audio\n\tmap id=10de:1aef,iommugroup=1,node=pve1,path=0000:01:00.1,subsystem-id=1458:403b'
        assert_output "$want"
        # Every map entry: the keys of $map_fmt only, id/subsystem-id "^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$",
        # iommugroup an integer, path a PCI address, node the short host name; section ids
        # pve-configid.
        run vc export --format proxmox --json
        assert_success
        run jq -r '.proxmox.mappings[] | .id as $id | .map[] | "\($id) \(.)"' <<<"$output"
        assert_success
        while read -r id map; do
                [[ $id =~ ^[A-Za-z][A-Za-z0-9_-]+$ ]]
                IFS=, read -ra kv <<<"$map"
                for pair in "${kv[@]}"; do
                        k=${pair%%=*} v=${pair#*=}
                        case $k in
                        id | subsystem-id) [[ $v =~ ^[0-9A-Fa-f]{4}:[0-9A-Fa-f]{4}$ ]] ;;
                        iommugroup) [[ $v =~ ^[0-9]+$ ]] ;;
                        node) [ "$v" = pve1 ] ;;
                        path) [[ $v =~ ^[a-f0-9]{4,}:[a-f0-9]{2}:[a-f0-9]{2}\.[a-f0-9]$ ]] ;;
                        *) echo "unexpected key $k"; false ;;
                        esac
                done
        done <<<"$output"
}

@test "export: only configured devices; the same configuration on another host gives the same names" {
        setup_gpu_host
        claim_gpu
        run vc export --format kubevirt --json
        first=$(jq -c '[.kubevirt.permittedHostDevices.pciHostDevices[].resourceName]' <<<"$output")
        # Devices no section names (the iGPU, the NVMe disk) are never exported.
        run vc export --format nova
        refute_output --partial '0000:00:02.0'
        refute_output --partial '0000:02:00.0'
        # Another host: other machine id and name, same configuration, the GPU not claimed yet.
        setup_gpu_host
        echo 'pve2' >"$ROOT/etc/hostname"
        echo 'fedcba9876543210fedcba9876543210' >"$ROOT/etc/machine-id"
        run --separate-stderr vc export --format kubevirt --json
        assert_success
        assert_equal "$(jq -c '[.kubevirt.permittedHostDevices.pciHostDevices[].resourceName]' <<<"$output")" "$first"
        assert_equal "$(jq -r '.host.hostname' <<<"$output")" pve2
        assert_equal "$(jq -r '.host.machine_id' <<<"$output")" fedcba9876543210fedcba9876543210
        assert_equal "$(jq -c '[.devices[].claimed]' <<<"$output")" '[false,false]'
        # Not claimed: exported, and stderr says what to do.
        [[ $stderr == *"0000:01:00.0 (gpu): not on vfio-pci now; a scheduler sees it once it is claimed"* ]]
}

# A group whose claim is refused (a configured member's id guard does not match) cannot be
# passed through: none of its devices is exported, not only the one whose guard fails.
@test "export: a group holding a device whose id guard does not match is left out whole" {
        setup_gpu_host
        printf '[device gpu]\nmatch = 0000:01:00.0\n[device gpu-audio]\nmatch = 0000:01:00.1\nid = 10de:10f0\n' \
                >"$CONF/conf.d/gpu.conf"
        run --separate-stderr vc export --format nova --json
        assert_success
        assert_equal "$(jq -c '[.devices[].address]' <<<"$output")" '[]'
        [[ $stderr == *"0000:01:00.1 (gpu-audio): its id guard does not match the device; left out"* ]]
        [[ $stderr == *"0000:01:00.0 (gpu): left out: IOMMU group 1 cannot be claimed, the id guard of 0000:01:00.1 (gpu-audio) does not match that device"* ]]
        # what a scheduler would have been offered is indeed refused
        run vc enable --yes 0000:01:00.0
        assert_failure 4
        assert_equal "$(fk_driver 0000:01:00.0)" nouveau
}

@test "export: a device type mix under one name gets per-type Nova aliases (Nova refuses a type mismatch)" {
        fake_root sriov-64vf
        pf=$(awk '/^dev / && /totalvfs=/ { print $2; exit }' "$abs_top_srcdir/tests/fixtures/sriov-64vf.topo")
        [ -n "$pf" ]
        mkdir -p "$CONF/conf.d"
        printf '[device nic]\nmatch = %s\n' "$pf" >"$CONF/conf.d/nic.conf"
        run --separate-stderr vc export --format nova --json
        assert_success
        assert_equal "$(jq -c '[.nova.alias[] | [.name, .device_type]]' <<<"$output")" '[["nic","type-PF"]]'
        # The PF and one of its VFs under one name: Nova wants one device_type per alias name.
        vf=$(readlink "$(fk_dev "$pf")/virtfn0")
        printf '[device nic]\nmatch = %s\nmatch = %s\n' "$pf" "${vf##*/}" >"$CONF/conf.d/nic.conf"
        run --separate-stderr vc export --format nova --json
        assert_success
        assert_equal "$(jq -c '[.nova.alias[] | [.name, .device_type]]' <<<"$output")" '[["nic-pf","type-PF"],["nic-vf","type-VF"]]'
}

@test "export: names a target cannot take are refused with the reason; bad --format is a usage error" {
        setup_gpu_host
        printf '[device g]\nmatch = 0000:01:00.0\n' >"$CONF/conf.d/gpu.conf"
        run --separate-stderr vc export --format proxmox
        assert_failure 1
        assert_equal "$stderr" "vfio-claim: device name \"g\" cannot be a Proxmox mapping id: it must start with a letter and have only letters, digits, '_' and '-' (two characters at least)"
        printf '[device gpu.3090_]\nmatch = 0000:01:00.0\n' >"$CONF/conf.d/gpu.conf"
        run --separate-stderr vc export --format kubevirt
        assert_failure 1
        [[ $stderr == *'device name "gpu.3090_" cannot name a KubeVirt resource'* ]]
        run --separate-stderr vc export --format openshift
        assert_failure 2
        assert_equal "$stderr" 'vfio-claim: export: unknown --format "openshift" (nova, kubevirt or proxmox)'
        run --separate-stderr vc export
        assert_failure 2
        # Proxmox needs the node name.
        printf '[device gpu]\nmatch = 0000:01:00.0\n' >"$CONF/conf.d/gpu.conf"
        rm "$ROOT/etc/hostname"
        run --separate-stderr vc export --format proxmox
        assert_failure 1
        [[ $stderr == *"cannot tell this host's name"* ]]
}

@test "export: an invalid configuration exits 3 and exports nothing" {
        setup_gpu_host
        printf '[device gpu]\nmatch = 0000:01:00.0\nboot = maybe\n' >"$CONF/conf.d/gpu.conf"
        run --separate-stderr vc export --format nova
        assert_failure 3
        assert_output ''
}

@test "list --json: schema_version and the host identity read inside --sysroot" {
        setup_gpu_host
        run vc list --json
        assert_success
        assert_equal "$(jq -c '[.schema_version, .host.hostname, .host.machine_id]' <<<"$output")" \
                '[1,"pve1.example.org","0123456789abcdef0123456789abcdef"]'
        # The kernel's name (what the host calls itself now) comes before /etc/hostname.
        mkdir -p "$ROOT/proc/sys/kernel"
        echo 'node7' >"$ROOT/proc/sys/kernel/hostname"
        run vc list --json
        assert_equal "$(jq -r '.host.hostname' <<<"$output")" node7
        # Unknown or malformed identity is null, never a guess from the running host.
        rm "$ROOT/etc/hostname" "$ROOT/proc/sys/kernel/hostname"
        echo 'uninitialized' >"$ROOT/etc/machine-id"
        run vc list --json
        assert_equal "$(jq -c '[.host.hostname, .host.machine_id]' <<<"$output")" '[null,null]'
}

@test "status --json: the same schema_version and host identity as list --json" {
        setup_gpu_host
        run vc --json status
        assert_success
        assert_equal "$(jq -c '[.schema_version, .host.hostname, .host.machine_id]' <<<"$output")" \
                '[1,"pve1.example.org","0123456789abcdef0123456789abcdef"]'
        jq -e '.groups | type == "array"' <<<"$output" >/dev/null
}
