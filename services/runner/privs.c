/* privs: dropping every privilege before exec (see privs.h). */
#include "privs.h"
#include "child.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PRIVS_MAX_CAP 63 /* beyond any kernel's CAP_LAST_CAP; EINVAL marks the end */

int privs_clear_caps(void)
{
    struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &header, data);
}

/* Removes every capability from the bounding set (needs CAP_SETPCAP, so before setuid). */
static int drop_bounding(void)
{
    for (int cap = 0; cap <= PRIVS_MAX_CAP; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0) continue;
        return errno == EINVAL && cap > 0 ? 0 : -1;
    }
    return 0;
}

/* Locks the securebits so that root has no special meaning for capabilities, and setuid keeps
 * clearing them. */
static int lock_securebits(void)
{
    unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
                         SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                         SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    return prctl(PR_SET_SECUREBITS, bits, 0, 0, 0);
}

int privs_limit(const char **stage)
{
    CHILD_STEP("drop bounding set", drop_bounding());
    CHILD_STEP("clear ambient capabilities",
               prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
    CHILD_STEP("lock securebits", lock_securebits());
    CHILD_STEP("no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
    return 0;
}

/* 0 when privs_limit's steps hold for this process, else -1 (one system call each, where the
 * limit itself takes one per capability). */
static int limited(void)
{
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return -1;
    if (prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0) != 0) return -1;
    if (prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) != 0) return -1;
    return (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) & SECBIT_NOROOT_LOCKED) ? 0 : -1;
}

int privs_drop(uid_t id, const char **stage)
{
    if (limited() != 0) {
        *stage = "privileges not limited";
        errno = EPERM;
        return -1;
    }
    /* Raw system calls: glibc's wrappers signal every thread of the process it remembers, and
     * a process made by a raw clone inherits that memory of threads it does not have. */
    CHILD_STEP("setgroups", (int)syscall(SYS_setgroups, 0, NULL));
    CHILD_STEP("setresgid", (int)syscall(SYS_setresgid, id, id, id));
    CHILD_STEP("setresuid", (int)syscall(SYS_setresuid, id, id, id));
    CHILD_STEP("clear capabilities", privs_clear_caps());
    /* Paranoia: root must be unreachable now. */
    if (syscall(SYS_setresuid, 0, 0, 0) == 0 || geteuid() == 0) {
        *stage = "verify uid";
        errno = EPERM;
        return -1;
    }
    return 0;
}
