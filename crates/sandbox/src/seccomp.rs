//! The sandbox's seccomp filter: a classic BPF program, assembled here, that refuses the system
//! calls a task has no business making (mounting, namespaces, kernel modules and keyrings,
//! tracing other processes, BPF, perf, io_uring, clocks, rebooting) with `EPERM`, kills a process
//! that calls from another architecture (32-bit x86 ABIs on x86_64 included), and allows the
//! rest. Capabilities are dropped and namespaces unshared as well; the filter is the layer that
//! also closes what an unprivileged user namespace would otherwise open (nested namespaces,
//! io_uring, userfaultfd). bubblewrap installs it (`--seccomp FD`) before it executes the task.

/// `struct sock_filter`: one BPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Instruction {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const RET_K: u16 = 0x06;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const EPERM: u32 = 1;
const RET_ERRNO_EPERM: u32 = 0x0005_0000 | EPERM;
/// `offsetof(struct seccomp_data, nr)` and `arch`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;

/// This architecture's audit constant, the system calls refused, and the lowest number of a
/// foreign ABI sharing the architecture (x32 on x86_64).
#[cfg(target_arch = "x86_64")]
const TABLE: (u32, &[u32], Option<u32>) = (
    0xc000_003e, // AUDIT_ARCH_X86_64
    &[
        101, // ptrace
        103, // syslog
        134, // uselib
        136, // ustat
        139, // sysfs
        153, // vhangup
        155, // pivot_root
        156, // _sysctl
        159, // adjtimex
        163, // acct
        164, // settimeofday
        165, // mount
        166, // umount2
        167, // swapon
        168, // swapoff
        169, // reboot
        170, // sethostname
        171, // setdomainname
        172, // iopl
        173, // ioperm
        174, // create_module
        175, // init_module
        176, // delete_module
        179, // quotactl
        180, // nfsservctl
        212, // lookup_dcookie
        227, // clock_settime
        246, // kexec_load
        248, // add_key
        249, // request_key
        250, // keyctl
        272, // unshare
        298, // perf_event_open
        303, // name_to_handle_at
        304, // open_by_handle_at
        305, // clock_adjtime
        308, // setns
        310, // process_vm_readv
        311, // process_vm_writev
        312, // kcmp
        313, // finit_module
        320, // kexec_file_load
        321, // bpf
        323, // userfaultfd
        425, // io_uring_setup
        426, // io_uring_enter
        427, // io_uring_register
        428, // open_tree
        429, // move_mount
        430, // fsopen
        431, // fsconfig
        432, // fsmount
        433, // fspick
        442, // mount_setattr
    ],
    Some(0x4000_0000), // __X32_SYSCALL_BIT
);

#[cfg(target_arch = "aarch64")]
const TABLE: (u32, &[u32], Option<u32>) = (
    0xc000_00b7, // AUDIT_ARCH_AARCH64
    &[
        18,  // lookup_dcookie
        39,  // umount2
        40,  // mount
        41,  // pivot_root
        58,  // vhangup
        60,  // quotactl
        89,  // acct
        97,  // unshare
        104, // kexec_load
        105, // init_module
        106, // delete_module
        112, // clock_settime
        116, // syslog
        117, // ptrace
        142, // reboot
        161, // sethostname
        162, // setdomainname
        170, // settimeofday
        171, // adjtimex
        217, // add_key
        218, // request_key
        219, // keyctl
        224, // swapon
        225, // swapoff
        241, // perf_event_open
        264, // name_to_handle_at
        265, // open_by_handle_at
        266, // clock_adjtime
        268, // setns
        270, // process_vm_readv
        271, // process_vm_writev
        272, // kcmp
        273, // finit_module
        280, // bpf
        282, // userfaultfd
        294, // kexec_file_load
        425, // io_uring_setup
        426, // io_uring_enter
        427, // io_uring_register
        428, // open_tree
        429, // move_mount
        430, // fsopen
        431, // fsconfig
        432, // fsmount
        433, // fspick
        442, // mount_setattr
    ],
    None,
);

/// The system calls the filter refuses on this architecture.
pub fn refused_syscalls() -> &'static [u32] {
    TABLE.1
}

/// The filter as bubblewrap reads it: `struct sock_filter` records in native byte order.
pub fn filter() -> Vec<u8> {
    let (arch, refused, foreign) = TABLE;
    let mut program = Vec::new();
    // The last three instructions: allow, refuse, kill. Jumps count from the next instruction.
    let denied = u32::try_from(refused.len()).expect("a short list");
    let body = 3 + u32::from(foreign.is_some()) + denied;
    // Index of each final instruction.
    let allow_at = body;
    let refuse_at = body + 1;
    let kill_at = body + 2;
    let jump = |from: u32, to: u32| u8::try_from(to - from - 1).expect("a short program");
    program.push(Instruction {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: OFFSET_ARCH,
    });
    program.push(Instruction {
        code: JEQ_K,
        jt: 0,
        jf: jump(1, kill_at),
        k: arch,
    });
    program.push(Instruction {
        code: LD_W_ABS,
        jt: 0,
        jf: 0,
        k: OFFSET_NR,
    });
    if let Some(bit) = foreign {
        let at = program.len() as u32;
        program.push(Instruction {
            code: JGE_K,
            jt: jump(at, kill_at),
            jf: 0,
            k: bit,
        });
    }
    for number in refused {
        let at = program.len() as u32;
        program.push(Instruction {
            code: JEQ_K,
            jt: jump(at, refuse_at),
            jf: 0,
            k: *number,
        });
    }
    debug_assert_eq!(program.len() as u32, allow_at);
    for k in [RET_ALLOW, RET_ERRNO_EPERM, RET_KILL_PROCESS] {
        program.push(Instruction {
            code: RET_K,
            jt: 0,
            jf: 0,
            k,
        });
    }
    let mut bytes = Vec::with_capacity(program.len() * 8);
    for instruction in program {
        bytes.extend_from_slice(&instruction.code.to_ne_bytes());
        bytes.push(instruction.jt);
        bytes.push(instruction.jf);
        bytes.extend_from_slice(&instruction.k.to_ne_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program as the kernel would on (arch, nr): the value of the `ret` reached.
    fn evaluate(bytes: &[u8], arch: u32, nr: u32) -> u32 {
        let program: Vec<Instruction> = bytes
            .chunks(8)
            .map(|chunk| Instruction {
                code: u16::from_ne_bytes([chunk[0], chunk[1]]),
                jt: chunk[2],
                jf: chunk[3],
                k: u32::from_ne_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]),
            })
            .collect();
        let mut accumulator = 0;
        let mut pc = 0usize;
        loop {
            let instruction = program[pc];
            match instruction.code {
                LD_W_ABS => {
                    accumulator = if instruction.k == OFFSET_ARCH {
                        arch
                    } else {
                        nr
                    };
                    pc += 1;
                }
                JEQ_K | JGE_K => {
                    let taken = if instruction.code == JEQ_K {
                        accumulator == instruction.k
                    } else {
                        accumulator >= instruction.k
                    };
                    let skip = if taken {
                        instruction.jt
                    } else {
                        instruction.jf
                    };
                    pc += 1 + usize::from(skip);
                }
                RET_K => return instruction.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn refused_calls_get_eperm_others_pass_and_foreign_abis_die() {
        let bytes = filter();
        let (arch, refused, foreign) = TABLE;
        for number in refused {
            assert_eq!(evaluate(&bytes, arch, *number), RET_ERRNO_EPERM, "{number}");
        }
        // read, write, openat, clone, exit_group on x86_64 (and harmless numbers elsewhere).
        for number in [0, 1, 56, 60, 231, 257] {
            if !refused.contains(&number) {
                assert_eq!(evaluate(&bytes, arch, number), RET_ALLOW, "{number}");
            }
        }
        assert_eq!(evaluate(&bytes, 0x4000_0003, 0), RET_KILL_PROCESS, "i386");
        if let Some(bit) = foreign {
            assert_eq!(evaluate(&bytes, arch, bit | 1), RET_KILL_PROCESS, "x32");
        }
    }
}
