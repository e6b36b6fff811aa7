# file: arch/powerpc/kernel/kvm_emul.S
# Applied to Linux 6.1 before the PV guest is built (scripts/build-guests.sh).
#
# Linux copies a template into kvm_tmp for every mtmsr/wrtee/wrteei it
# patches. Its 64 KiB run out on this kernel (about 1,270 sites are left
# unpatched and the boot log reports "Live patching ... failed"), so the PV
# baseline would be weaker than Linux PV can be. 256 KiB fits them all; the
# unused rest is freed by Linux after patching.
s{(kvm_tmp:\n\t\.space\t)\(64 \* 1024\)}{$1(256 * 1024)};
