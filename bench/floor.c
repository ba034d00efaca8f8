/* sworn-floor: the kernel work of `sworn run` for bench.py's bundle (runc
 * spec's default config.json running /bin/true, root read-only, no
 * terminal), with nothing else: no config parsing, no state file, no
 * checks, no trampoline. It is the physical floor a runtime doing that work
 * cannot beat, and bench.py times it interleaved with sworn, runc and crun.
 *
 *   sworn-floor ROOTFS CGROUP_PATH [PROGRAM ARGS...]   (default /bin/true)
 *
 * tests/integration/cli_cases_floor.py compares sworn's syscall profile of
 * the bundle (clone flags, mount calls, cgroup directories) with this
 * program's under strace -f: change both together.
 *
 * Static, no allocation, exits on the first error with the call and path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_H 16
static char hier[MAX_H][128]; /* cgroup mountpoints; the v2 one is last */
static int nhier, v2 = -1;
static char leaf[MAX_H][400];

/* SWORN_FLOOR_STAMPS=1 prints the time of each step since start, as
 * sworn --debug does, to compare the two step by step. */
static struct timespec t0;
static int stamps;
static void stamp(const char* what) {
  struct timespec t;
  if (!stamps) return;
  clock_gettime(CLOCK_MONOTONIC, &t);
  long us = (t.tv_sec - t0.tv_sec) * 1000000 + (t.tv_nsec - t0.tv_nsec) / 1000;
  fprintf(stderr, "sworn-floor: [%ld.%03ldms] %s\n", us / 1000, us % 1000, what);
}

static void die(const char* call, const char* path) {
  fprintf(stderr, "sworn-floor: %s %s: %s\n", call, path ? path : "", strerror(errno));
  _exit(125);
}

static void mnt(const char* src, const char* dst, const char* type, unsigned long flags, const char* data) {
  if (mount(src, dst, type, flags, data) < 0) die("mount", dst);
}

static void put(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) < 0) die("write", path);
  close(fd);
}

static void copy(const char* from, const char* to) {
  char buf[256];
  int fd = open(from, O_RDONLY | O_CLOEXEC);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
  if (n < 0) die("read", from);
  close(fd);
  buf[n] = 0;
  put(to, buf);
}

/* Every cgroup hierarchy under /sys/fs/cgroup, as sworn's Discover. */
static void discover(void) {
  FILE* f = fopen("/proc/self/mounts", "re");
  char dev[64], mp[128], type[32];
  if (!f) die("open", "/proc/self/mounts");
  while (nhier < MAX_H && fscanf(f, "%63s %127s %31s %*[^\n]", dev, mp, type) == 3) {
    int is2 = strcmp(type, "cgroup2") == 0;
    if (!is2 && strcmp(type, "cgroup") != 0) continue;
    /* Other containers' cgroup mounts show up here too (those without a
     * mount namespace of their own). */
    if (strncmp(mp, "/sys/fs/cgroup/", 15) != 0 || strchr(mp + 15, '/')) continue;
    if (is2) v2 = nhier;
    strcpy(hier[nhier++], mp);
  }
  fclose(f);
}

/* Creates the container's cgroup in each hierarchy (parents as needed,
 * cpuset's cpus/mems copied down, the device rules of the runc spec). */
static void make_cgroups(const char* cg) {
  static const char* rules[] = {"c *:* m",   "b *:* m",   "c 1:3 rwm",   "c 1:8 rwm",
                                "c 1:7 rwm", "c 5:0 rwm", "c 1:5 rwm",   "c 1:9 rwm",
                                "c 136:* rwm", "c 5:2 rwm", "c 10:200 rwm"};
  for (int h = 0; h < nhier; ++h) {
    char path[512], from[600], to[600];
    snprintf(path, sizeof(path), "%s", hier[h]);
    const char* p = cg;
    while (*p) { /* one mkdir per component */
      const char* slash = strchr(p + 1, '/');
      size_t n = slash ? (size_t)(slash - p) : strlen(p);
      char parent[512];
      strcpy(parent, path);
      strncat(path, p, n);
      p += n;
      if (mkdir(path, 0755) < 0 && errno != EEXIST) die("mkdir", path);
      if (strstr(hier[h], "cpuset"))
        for (int k = 0; k < 2; ++k) {
          const char* file = k ? "cpuset.mems" : "cpuset.cpus";
          snprintf(from, sizeof(from), "%s/%s", parent, file);
          snprintf(to, sizeof(to), "%s/%s", path, file);
          copy(from, to);
        }
    }
    strcpy(leaf[h], path);
    if (strstr(hier[h], "devices")) {
      snprintf(to, sizeof(to), "%s/devices.deny", path);
      put(to, "a");
      snprintf(to, sizeof(to), "%s/devices.allow", path);
      int fd = open(to, O_WRONLY | O_CLOEXEC); /* one open, a rule per write, as sworn */
      for (size_t i = 0; fd >= 0 && i < sizeof(rules) / sizeof(*rules); ++i)
        if (write(fd, rules[i], strlen(rules[i])) < 0) die("write", to);
      if (fd < 0 || close(fd) < 0) die("open", to);
    }
  }
}

static void at(char* out, const char* root, const char* rel) { sprintf(out, "%s%s", root, rel); }

/* The mounts of the runc spec, then /sys/fs/cgroup as sworn builds it for a
 * container without a cgroup namespace: a tmpfs of read-only binds. */
static void mounts(const char* r) {
  char p[512], q[512];
  mnt(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
  mnt(r, r, NULL, MS_BIND | MS_REC, NULL);
  mnt(NULL, r, NULL, MS_PRIVATE, NULL);
  at(p, r, "/proc"), mnt("proc", p, "proc", 0, NULL);
  at(p, r, "/dev"), mnt("tmpfs", p, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
  at(p, r, "/dev/pts"), mkdir(p, 0755);
  mnt("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  at(p, r, "/dev/shm"), mkdir(p, 0755);
  mnt("shm", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k");
  at(p, r, "/dev/mqueue"), mkdir(p, 0755);
  mnt("mqueue", p, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  at(p, r, "/sys"), mnt("sysfs", p, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  unsigned long cgf = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME;
  at(p, r, "/sys/fs/cgroup"), mnt("cgroup", p, "tmpfs", cgf, "mode=755");
  for (int h = 0; h < nhier; ++h) {
    if (h == v2) continue; /* v1 binds only, as sworn on a hybrid host */
    snprintf(q, sizeof(q), "%s/%s", p, strrchr(hier[h], '/') + 1);
    if (mkdir(q, 0755) < 0) die("mkdir", q);
    mnt(leaf[h], q, NULL, MS_BIND, NULL);
    mnt(NULL, q, NULL, MS_RDONLY | MS_REMOUNT | MS_BIND | cgf, NULL);
  }
  mnt(NULL, p, NULL, MS_RDONLY | MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

static void devices(const char* r) {
  static const struct { const char* name; int maj, min; } nodes[] = {
      {"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
  static const char* links[][2] = {{"/proc/self/fd", "fd"},     {"/proc/self/fd/0", "stdin"},
                                   {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
                                   {"pts/ptmx", "ptmx"}};
  char p[512];
  at(p, r, "/dev");
  int dev = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dev < 0) die("open", p);
  umask(0);
  for (size_t i = 0; i < sizeof(nodes) / sizeof(*nodes); ++i)
    if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0) die("mknod", nodes[i].name);
  for (size_t i = 0; i < sizeof(links) / sizeof(*links); ++i)
    if (symlinkat(links[i][0], dev, links[i][1]) < 0) die("symlink", links[i][1]);
  umask(022);
  close(dev);
}

static void enter_root(const char* r) {
  int old = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (old < 0 || chdir(r) < 0) die("chdir", r);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die("pivot_root", r);
  if (fchdir(old) < 0) die("fchdir", "/");
  mnt(NULL, ".", NULL, MS_REC | MS_SLAVE, NULL);
  if (umount2(".", MNT_DETACH) < 0) die("umount2", ".");
  if (chdir("/") < 0) die("chdir", "/");
  close(old);
}

/* maskedPaths and readonlyPaths of the runc spec, then the read-only root. */
static void finalize(void) {
  static const char* ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  static const char* masked[] = {"/proc/acpi",        "/proc/asound",      "/proc/kcore",  "/proc/keys",
                                 "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                                 "/proc/sched_debug", "/sys/firmware",     "/proc/scsi"};
  struct stat st;
  for (size_t i = 0; i < sizeof(ro) / sizeof(*ro); ++i) {
    /* As sworn: a read-only copy (open_tree, mount_setattr) moved over it. */
    int fd = open(ro[i], O_PATH | O_CLOEXEC);
    if (fd < 0) continue;
    int tree = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
    if (tree < 0 || syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 ||
        syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
      die("read-only copy of", ro[i]);
    close(tree);
    close(fd);
  }
  for (size_t i = 0; i < sizeof(masked) / sizeof(*masked); ++i) {
    if (stat(masked[i], &st) < 0) continue;
    if (S_ISDIR(st.st_mode))
      mnt("tmpfs", masked[i], "tmpfs", MS_RDONLY, "size=0k,nr_inodes=1");
    else
      mnt("/dev/null", masked[i], NULL, MS_BIND, NULL);
  }
  mnt(NULL, "/", NULL, MS_RDONLY | MS_REMOUNT | MS_BIND, NULL);
}

static void credentials(void) {
  const unsigned keep = 1u << CAP_AUDIT_WRITE | 1u << CAP_KILL | 1u << CAP_NET_BIND_SERVICE;
  for (int c = 0; c < 64; ++c) {
    if (c < 32 && (keep >> c & 1)) continue;
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
      if (errno == EINVAL) break;
      die("prctl", "PR_CAPBSET_DROP");
    }
  }
  if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) die("setresuid", NULL);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {{keep, keep, 0}, {0, 0, 0}};
  if (syscall(SYS_capset, &hdr, data) < 0) die("capset", NULL);
  /* Refused (EPERM) without the inheritable bits, as under sworn. */
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_AUDIT_WRITE, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl", "PR_SET_NO_NEW_PRIVS");
}

static int tasks_fd[MAX_H];

static void child(const char* rootfs, char** argv, int go) {
  /* Joins its v1 cgroups itself, as sworn's init: "0" to tasks skips the
   * threadgroup rwsem a cgroup.procs write takes (cgroup/self_join.h). */
  for (int h = 0; h < nhier; ++h)
    if (h != v2 && (write(tasks_fd[h], "0", 1) != 1 || close(tasks_fd[h]) < 0)) die("write", "tasks");
  if (sethostname("runc", 4) < 0) die("sethostname", NULL);
  stamp("init: namespaces entered");
  mounts(rootfs);
  devices(rootfs);
  stamp("init: mounts done");
  enter_root(rootfs);
  finalize();
  stamp("init: pivoted");
  if (setsid() < 0) die("setsid", NULL);
  struct rlimit nofile = {1024, 1024};
  if (setrlimit(RLIMIT_NOFILE, &nofile) < 0) die("setrlimit", NULL);
  if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "_ses.floor") < 0) die("keyctl", NULL);
  credentials();
  char c;
  stamp("create: init ready");
  if (read(go, &c, 1) != 1) _exit(125); /* the parent says go */
  char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", NULL};
  execve(argv[0], argv, envp);
  die("execve", argv[0]);
}

int main(int argc, char** argv) {
  if (argc < 3 || argv[2][0] != '/') {
    fprintf(stderr, "usage: sworn-floor ROOTFS /CGROUP/PATH [PROGRAM ARGS...]\n");
    return 2;
  }
  static char* dflt[] = {"/bin/true", NULL};
  stamps = getenv("SWORN_FLOOR_STAMPS") != NULL;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  stamp("create: start");
  discover();
  make_cgroups(argv[2]);
  stamp("create: cgroups ready");
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) die("pipe2", NULL);
  int cgfd = v2 >= 0 ? open(leaf[v2], O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  char path[600];
  for (int h = 0; h < nhier; ++h) {
    if (h == v2) continue;
    snprintf(path, sizeof(path), "%s/tasks", leaf[h]);
    if ((tasks_fd[h] = open(path, O_WRONLY | O_CLOEXEC)) < 0) die("open", path);
  }
  int pidfd = -1;
  struct clone_args a = {0};
  a.flags = CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET |
            (cgfd >= 0 ? CLONE_INTO_CGROUP : 0);
  a.pidfd = (unsigned long)&pidfd;
  a.exit_signal = SIGCHLD;
  a.cgroup = (unsigned)cgfd;
  long pid = syscall(SYS_clone3, &a, sizeof(a));
  if (pid < 0) die("clone3", NULL);
  if (pid == 0) child(argv[1], argc > 3 ? argv + 3 : dflt, go[0]);
  stamp("create: cloned init");
  for (int h = 0; h < nhier; ++h)
    if (h != v2) close(tasks_fd[h]);
  if (write(go[1], "", 1) != 1) die("write", "sync pipe");
  stamp("run: started");
  int status;
  if (waitpid(pid, &status, 0) < 0) die("waitpid", NULL);
  stamp("run: container exited");
  for (int h = 0; h < nhier; ++h)
    if (rmdir(leaf[h]) < 0) die("rmdir", leaf[h]);
  stamp("run: deleted");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
