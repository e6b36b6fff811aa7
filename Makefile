# kvm-bt top-level build: QEMU 7.2 (Debian source) + our overlay, guest
# images, tests. Everything fetched or built goes to $(KVM_BT_CACHE).
# See README.md; 'make help' lists the targets.
SHELL := /bin/bash
-include config.mk
KVM_BT_CACHE ?= $(HOME)/.cache/kvm-bt
export KVM_BT_CACHE
CORE_BUILD := $(KVM_BT_CACHE)/core-build

.PHONY: all help setup qemu qtests cross-qemu guests core nested kvm-nested check demo bench fuzz qemu-asan core-asan check-asan clean distclean

all: qemu core

help:
	@echo "make            build qemu-system-ppc (QEMU 7.2 + kvm-bt) and the translator core"
	@echo "make setup      install the Debian packages everything needs (scripts/setup.sh)"
	@echo "make qtests     QEMU's ppc qtests (tests/qtest, kvm-bt-test among them)"
	@echo "make guests     build the stock and PV Linux guests and the workload"
	@echo "make cross-qemu static qemu-system-ppc (kvm, kvm-bt, tcg) for a 32-bit PowerPC host (e500v2)"
	@echo "make check      build everything and run every test (tests/run.py)"
	@echo "make kvm-nested real Linux KVM e500v2 nested under TCG: the e500v2 guests under"
	@echo "                -accel kvm, KVM's counters by phase (QUICK=1: small workload)"
	@echo "make demo       boot the stock guest and print its summary (scripts/demo.sh)"
	@echo "make bench      native vs trap vs pv vs bt (QUICK=1: small counts; RUNS=N)"
	@echo "make qemu-asan  qemu-system-ppc with AddressSanitizer + UBSan ($(KVM_BT_CACHE)/qemu-asan)"
	@echo "make check-asan the core unit tests, the bt suite and the fuzz smoke set under both sanitizers"
	@echo "make fuzz       N random programs from seed SEED under tcg and every kvm-bt mode"
	@echo "                (N=1000 SEED=1 by default; divergences shrunk into tests/fuzz/regressions)"
	@echo "make clean      remove build outputs, keep fetched sources"
	@echo "make distclean  remove the whole cache ($(KVM_BT_CACHE))"

setup:
	scripts/setup.sh

qemu:
	scripts/build-qemu.sh

qtests: qemu
	scripts/build-qtests.sh

cross-qemu:
	scripts/build-cross-qemu.sh

guests:
	scripts/build-guests.sh

# The nested KVM rig's own pieces (runner, plugin, stripped guests).
nested: qemu cross-qemu guests
	scripts/build-nested.sh

kvm-nested: nested
	python3 tests/guest/kvm_nested.py $(if $(QUICK),--quick)

# Debian's meson runs on Debian's python, whatever else is in PATH.
core:
	@export PATH=/usr/bin:$$PATH; \
	if [ ! -f $(CORE_BUILD)/build.ninja ]; then meson setup $(CORE_BUILD) . >/dev/null; fi; \
	ninja -C $(CORE_BUILD) >/dev/null

check: qemu qtests cross-qemu guests core core-asan nested
	python3 tests/run.py $(SUITES)

# Sanitizers: the core's unit tests (core-asan, run by 'make check' as suite
# unit-sanitize) and QEMU itself (qemu-asan), each built apart from the plain build.
CORE_ASAN_BUILD := $(KVM_BT_CACHE)/core-asan-build
core-asan:
	@export PATH=/usr/bin:$$PATH; \
	if [ ! -f $(CORE_ASAN_BUILD)/build.ninja ]; then \
	    meson setup -Db_sanitize=address,undefined -Db_lundef=false $(CORE_ASAN_BUILD) . >/dev/null; fi; \
	ninja -C $(CORE_ASAN_BUILD) >/dev/null

qemu-asan:
	KVM_BT_SANITIZE=1 scripts/build-qemu.sh

check-asan: qemu-asan core-asan guests
	python3 tests/sanitize.py

demo: qemu guests
	scripts/demo.sh

# Differential fuzzing (tests/fuzz): each program under tcg and the kvm-bt modes.
N ?= 1000
SEED ?= 1
fuzz: qemu
	python3 tests/fuzz/fuzz.py run --n $(N) --seed $(SEED)

bench: qemu guests
	python3 bench/bench.py $(if $(QUICK),--quick) $(if $(RUNS),--runs $(RUNS))

clean:
	rm -rf $(CORE_BUILD) $(KVM_BT_CACHE)/qemu/build $(KVM_BT_CACHE)/linux/build-* $(KVM_BT_CACHE)/nested
	rm -rf $(KVM_BT_CACHE)/cross/build $(KVM_BT_CACHE)/cross/sysroot $(KVM_BT_CACHE)/cross/qemu-build \
	       $(KVM_BT_CACHE)/cross/qemu-system-ppc $(KVM_BT_CACHE)/cross/qemu-system-ppc.key

distclean:
	rm -rf $(KVM_BT_CACHE)
