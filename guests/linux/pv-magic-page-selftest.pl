# file: arch/powerpc/kernel/kvm.c
# Applied to Linux 6.1's arch/powerpc/kernel/kvm.c before the PV guest is
# built (scripts/build-guests.sh).
#
# kvm_use_magic_page() checks that the magic page at 0xFFFFF000 is readable
# before patching the kernel. Since fault_in_pages_readable() became
# fault_in_readable() (Linux 5.16) that check goes through access_ok(),
# which on ppc32 rejects every address above TASK_SIZE, so the check always
# fails and a 6.1 guest silently never patches itself. Read the page the
# way kernel code reads a kernel address that may fault instead.
s{fault_in_readable\(\(const char __user \*\)KVM_MAGIC_PAGE,}
 {copy_from_kernel_nofault(&(u32){ 0 }, (const void *)KVM_MAGIC_PAGE,};
