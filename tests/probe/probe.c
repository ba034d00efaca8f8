/* sworn-probe: prints the calling process's view of its container as one
 * JSON object on stdout.  Build: gcc -std=c11 -static -O2 -o sworn-probe probe.c
 *
 * Modes:
 *   sworn-probe                 print the view
 *   sworn-probe exit N          print nothing, exit with status N
 *   sworn-probe sleep N         sleep N seconds; TERM/INT/HUP/USR1/USR2 make it
 *                               exit with 128+signo (pid 1 ignores signals that
 *                               have no handler, so the handler is needed)
 *   sworn-probe signal SIG      raise SIG (name or number) at itself; if still
 *                               alive (pid 1 is immune), exit 125
 *   sworn-probe segv            dereference NULL (kills even a pid-1 process)
 *   sworn-probe check PATH...   for each PATH: what reading and writing give
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

static int first_item = 1; /* comma bookkeeping for the current JSON container */

static void sep(void)
{
    if (!first_item)
        putchar(',');
    first_item = 0;
}

static void jstr(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void key(const char *k)
{
    sep();
    jstr(k);
    putchar(':');
}

static void open_obj(const char *k, char brace)
{
    if (k)
        key(k);
    else
        sep();
    putchar(brace);
    first_item = 1;
}

static void close_obj(char brace)
{
    putchar(brace);
    first_item = 0;
}

static void kv_str(const char *k, const char *v)
{
    key(k);
    if (v)
        jstr(v);
    else
        fputs("null", stdout);
}

static void kv_long(const char *k, long long v)
{
    key(k);
    printf("%lld", v);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmp_gid(const void *a, const void *b)
{
    gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;
    return (x > y) - (x < y);
}

static void emit_ids(void)
{
    gid_t groups[NGROUPS_MAX];
    int n = getgroups(NGROUPS_MAX, groups);

    kv_long("uid", getuid());
    kv_long("euid", geteuid());
    kv_long("gid", getgid());
    kv_long("egid", getegid());
    if (n < 0)
        n = 0;
    qsort(groups, (size_t)n, sizeof groups[0], cmp_gid);
    open_obj("groups", '[');
    for (int i = 0; i < n; i++) {
        sep();
        printf("%u", (unsigned)groups[i]);
    }
    close_obj(']');
    kv_long("pid", getpid());
    kv_long("ppid", getppid());
}

static void emit_env(void)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **copy = calloc(n + 1, sizeof *copy);
    if (!copy)
        exit(124);
    memcpy(copy, environ, n * sizeof *copy);
    qsort(copy, n, sizeof *copy, cmp_str);
    open_obj("env", '[');
    for (size_t i = 0; i < n; i++) {
        sep();
        jstr(copy[i]);
    }
    close_obj(']');
    free(copy);
}

static void emit_uts(void)
{
    struct utsname u;
    char cwd[PATH_MAX];
    mode_t mask = umask(0);

    umask(mask);
    kv_long("umask", mask);
    kv_str("cwd", getcwd(cwd, sizeof cwd));
    if (uname(&u) == 0) {
        kv_str("hostname", u.nodename);
        kv_str("domainname", u.domainname);
    }
}

static void emit_status(void)
{
    static const char *const wanted[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
                                         "NoNewPrivs", "Seccomp", "Umask", NULL};
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");

    open_obj("status", '{');
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        for (int i = 0; wanted[i]; i++) {
            if (strcmp(line, wanted[i]) != 0)
                continue;
            char *v = colon + 1;
            v += strspn(v, " \t");
            v[strcspn(v, "\n")] = '\0';
            kv_str(line, v);
        }
    }
    close_obj('}');
    if (f)
        fclose(f);
}

/* Keep only the per-mount flags a user notices. */
static void emit_mount_opts(char *opts)
{
    static const char *const keep[] = {"ro", "rw", "nosuid", "nodev", "noexec", NULL};
    open_obj(NULL, '[');
    for (char *o = strtok(opts, ","); o; o = strtok(NULL, ",")) {
        for (int i = 0; keep[i]; i++)
            if (strcmp(o, keep[i]) == 0) {
                sep();
                jstr(o);
            }
    }
    close_obj(']');
}

static void emit_mounts(void)
{
    char line[4096];
    FILE *f = fopen("/proc/self/mountinfo", "r");

    open_obj("mounts", '[');
    while (f && fgets(line, sizeof line, f)) {
        /* id parent major:minor root mountpoint opts [optional...] - fstype src superopts */
        char *field[6], *save = NULL, *p = line;
        int n = 0;
        while (n < 6 && (field[n] = strtok_r(p, " ", &save)))
            p = NULL, n++;
        char *dash = strstr(save ? save : "", "- ");
        if (n < 6 || !dash)
            continue;
        char *fstype = strtok_r(dash + 2, " ", &save);
        open_obj(NULL, '[');
        sep();
        jstr(field[4]);
        sep();
        jstr(fstype ? fstype : "?");
        emit_mount_opts(field[5]);
        close_obj(']');
    }
    close_obj(']');
    if (f)
        fclose(f);
}

static void emit_rlimits(void)
{
    static const struct { const char *name; int res; } lim[] = {
        {"RLIMIT_AS", RLIMIT_AS}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA}, {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE}, {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS}, {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
    };
    open_obj("rlimits", '{');
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        struct rlimit r;
        if (getrlimit(lim[i].res, &r) != 0)
            continue;
        /* -1 stands for RLIM_INFINITY */
        key(lim[i].name);
        printf("[%lld,%lld]", r.rlim_cur == RLIM_INFINITY ? -1LL : (long long)r.rlim_cur,
               r.rlim_max == RLIM_INFINITY ? -1LL : (long long)r.rlim_max);
    }
    close_obj('}');
}

static void emit_namespaces(void)
{
    static const char *const ns[] = {"pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time", NULL};
    open_obj("namespaces", '{');
    for (int i = 0; ns[i]; i++) {
        char path[64], target[128];
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
        ssize_t n = readlink(path, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        kv_str(ns[i], n > 0 ? target : NULL);
    }
    close_obj('}');
}

static void emit_misc(void)
{
    char buf[32] = "";
    FILE *f = fopen("/proc/self/oom_score_adj", "r");

    f && fgets(buf, sizeof buf, f) ? kv_long("oom_score_adj", atoll(buf)) : kv_str("oom_score_adj", NULL);
    if (f)
        fclose(f);
    key("tty");
    printf("{\"stdin\":%s,\"stdout\":%s,\"stderr\":%s}", isatty(0) ? "true" : "false",
           isatty(1) ? "true" : "false", isatty(2) ? "true" : "false");
}

static void emit_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    open_obj("fds", '[');
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        sep();
        printf("%d", atoi(e->d_name));
    }
    close_obj(']');
    if (d)
        closedir(d);
}

/* Read: bytes readable (files) or entry count (dirs), else errno name.
 * Write: whether the file opens for writing, or a file can be created in the dir. */
static void emit_check(const char *path)
{
    char buf[65536];
    long long total = 0;
    ssize_t n = 0;
    struct stat st;
    int fd = open(path, O_RDONLY), is_dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);

    open_obj(path, '{');
    if (is_dir) {
        DIR *d = fdopendir(fd);
        for (struct dirent *e; d && (e = readdir(d));)
            total += e->d_name[0] != '.';
        kv_long("entries", total);
        closedir(d);
    } else if (fd >= 0) {
        while ((n = read(fd, buf, sizeof buf)) > 0 && total < (1 << 20))
            total += n;
        n < 0 ? kv_str("read", strerrorname_np(errno)) : kv_long("read", total);
        close(fd);
    } else {
        kv_str("read", strerrorname_np(errno));
    }
    snprintf(buf, sizeof buf, "%s/.sworn-probe-write", path);
    fd = is_dir ? open(buf, O_WRONLY | O_CREAT | O_EXCL, 0600) : open(path, O_WRONLY);
    kv_str("write", fd < 0 ? strerrorname_np(errno) : "ok");
    if (fd >= 0) {
        close(fd);
        if (is_dir)
            unlink(buf);
    }
    close_obj('}');
}

static int parse_signal(const char *s)
{
    static const struct { const char *name; int sig; } sigs[] = {
        {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
        {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ABRT", SIGABRT},
    };
    if (strncmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (strcmp(s, sigs[i].name) == 0)
            return sigs[i].sig;
    return atoi(s);
}

static void on_signal(int sig) { _exit(128 + sig); }

static int run_mode(int argc, char **argv)
{
    const char *mode = argv[1];
    if (strcmp(mode, "exit") == 0 && argc == 3)
        return atoi(argv[2]);
    if (strcmp(mode, "sleep") == 0 && argc == 3) {
        static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2};
        for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
            signal(handled[i], on_signal);
        sleep((unsigned)atoi(argv[2]));
        return 0;
    }
    if (strcmp(mode, "signal") == 0 && argc == 3) {
        raise(parse_signal(argv[2]));
        return 125;
    }
    if (strcmp(mode, "segv") == 0) {
        volatile int *volatile null = NULL;
        return *null;
    }
    if (strcmp(mode, "check") == 0) {
        open_obj(NULL, '{');
        for (int i = 2; i < argc; i++)
            emit_check(argv[i]);
        close_obj('}');
        putchar('\n');
        return 0;
    }
    fprintf(stderr, "usage: %s [exit N | sleep N | signal SIG | segv | check PATH...]\n", argv[0]);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return run_mode(argc, argv);
    open_obj(NULL, '{');
    emit_ids();
    emit_env();
    emit_uts();
    emit_status();
    emit_mounts();
    emit_rlimits();
    emit_namespaces();
    emit_misc();
    emit_fds();
    close_obj('}');
    putchar('\n');
    return 0;
}
