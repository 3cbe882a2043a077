/*
 * ptyrun.c - a small expect: runs a command on a pseudo-terminal and
 * follows a script of what to type and what to wait for.
 *
 *   ptyrun [-t SECONDS] [-o LOG] SCRIPT -- COMMAND [ARGS...]
 *
 * COMMAND runs on a new pseudo-terminal of 80x24 (stdin, stdout and stderr),
 * with TERM=xterm unless PTYRUN_TERM says otherwise.  SCRIPT ("-": standard
 * input) has one command per line; blank lines and lines starting with '#'
 * are skipped:
 *
 *   send TEXT       type TEXT (escapes: \n \r \t \e \\ \xHH; \x03 is Ctrl-C)
 *   expect TEXT     wait until the output after the previous match contains
 *                   TEXT (same escapes); the next expect searches after it
 *   reject TEXT     fail if the output after the previous match contains
 *                   TEXT now (use after an expect that follows it)
 *   sleep MS        wait MS milliseconds (reading output meanwhile)
 *   expect_eof      wait until the command closes the terminal
 *   expect_exit N   wait until the command exits, with status N
 *
 * The output is matched after removing carriage returns and terminal
 * escape sequences (ESC [ ... final byte, ESC ] ... BEL, ESC and one
 * character), so "expect" sees the text as a user reads it.  Each expect
 * waits at most SECONDS (-t, default 10).  On a failure ptyrun prints the
 * script line, what it waited for and the output since the previous match,
 * kills the command and exits 1; when the script ends the command gets
 * SIGHUP (as when a terminal closes).  -o LOG writes the raw output there.
 * Exit status: 0 when every line held, 1 on a failure, 2 on a usage error.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The session: the terminal's master side, the child, its output. */
typedef struct Session {
    int fd;           /* master side of the pty, or -1 after EOF */
    pid_t pid;        /* the command, or 0 once reaped */
    int status;       /* its wait status once reaped */
    char *raw;        /* everything it wrote */
    size_t raw_len, raw_cap;
    char *text;       /* raw without CR and escape sequences */
    size_t text_len;
    size_t mark;      /* offset in text after the previous match */
    double timeout;   /* seconds per expect */
    FILE *log;        /* -o LOG, or NULL */
    const char *script_name;
    int lineno;
} Session;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "ptyrun: out of memory\n");
        exit(2);
    }
    return p;
}

/* Rebuilds s->text from s->raw (the whole of it: escape sequences may
 * have been split between reads; outputs are small). */
static void clean_output(Session *s)
{
    size_t i = 0, n = 0;
    s->text = xrealloc(s->text, s->raw_len + 1);
    while (i < s->raw_len) {
        unsigned char c = (unsigned char)s->raw[i];
        if (c == '\r' || c == '\a') {
            i++;
        } else if (c == 0x1b) {
            i++;
            if (i < s->raw_len && s->raw[i] == '[') { /* CSI: params, final byte */
                i++;
                while (i < s->raw_len && !((unsigned char)s->raw[i] >= 0x40 &&
                                           (unsigned char)s->raw[i] <= 0x7e))
                    i++;
                i++;
            } else if (i < s->raw_len && s->raw[i] == ']') { /* OSC ... BEL */
                while (i < s->raw_len && s->raw[i] != '\a')
                    i++;
                i++;
            } else {
                i++;
            }
        } else {
            s->text[n++] = (char)c;
            i++;
        }
    }
    s->text[n] = '\0';
    s->text_len = n;
    if (s->mark > n)
        s->mark = n;
}

/* Reaps the child if it has exited (hang: wait for it). */
static void reap(Session *s, bool hang)
{
    if (s->pid > 0 && waitpid(s->pid, &s->status, hang ? 0 : WNOHANG) == s->pid)
        s->pid = 0;
}

/* Reads what the command wrote, waiting at most wait_s seconds for
 * something.  Returns false at EOF (the terminal closed). */
static bool pump(Session *s, double wait_s)
{
    struct pollfd pfd;
    int r;
    if (s->fd < 0)
        return false;
    pfd.fd = s->fd;
    pfd.events = POLLIN;
    r = poll(&pfd, 1, wait_s <= 0 ? 0 : (int)(wait_s * 1000) + 1);
    if (r < 0)
        return errno == EINTR;
    if (r == 0)
        return true;
    for (;;) {
        ssize_t got;
        if (s->raw_cap - s->raw_len < 4096) {
            s->raw_cap = s->raw_cap * 2 + 8192;
            s->raw = xrealloc(s->raw, s->raw_cap);
        }
        got = read(s->fd, s->raw + s->raw_len, s->raw_cap - s->raw_len);
        if (got > 0) {
            if (s->log)
                fwrite(s->raw + s->raw_len, 1, (size_t)got, s->log);
            s->raw_len += (size_t)got;
            continue;
        }
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0 && errno == EAGAIN)
            break;
        /* EOF, or EIO: every slave descriptor is closed */
        close(s->fd);
        s->fd = -1;
        break;
    }
    clean_output(s);
    return s->fd >= 0;
}

/* Prints text with control characters visible. */
static void print_visible(FILE *f, const char *text, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n' || c == '\t' || (c >= 32 && c != 127))
            fputc(c, f);
        else
            fprintf(f, "\\x%02x", c);
    }
}

/* Reports a failed script line with the output since the last match,
 * kills the command and exits 1. */
static void fail(Session *s, const char *fmt, ...)
{
    va_list ap;
    size_t from = s->mark, tail = 2000;
    fprintf(stderr, "ptyrun: %s:%d: ", s->script_name, s->lineno);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (s->text_len - from > tail) {
        from = s->text_len - tail;
        fprintf(stderr, "--- output since the previous match (last %zu characters) ---\n",
                tail);
    } else {
        fprintf(stderr, "--- output since the previous match ---\n");
    }
    print_visible(stderr, s->text + from, s->text_len - from);
    fprintf(stderr, "\n--- end of output ---\n");
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        reap(s, true);
    }
    exit(1);
}

/* Decodes the escapes of arg into a malloc'd string of *len bytes. */
static char *unescape(Session *s, const char *arg, size_t *len)
{
    char *out = xrealloc(NULL, strlen(arg) + 1);
    size_t n = 0;
    while (*arg) {
        if (*arg != '\\') {
            out[n++] = *arg++;
            continue;
        }
        arg++;
        switch (*arg) {
        case 'n': out[n++] = '\n'; arg++; break;
        case 'r': out[n++] = '\r'; arg++; break;
        case 't': out[n++] = '\t'; arg++; break;
        case 'e': out[n++] = 0x1b; arg++; break;
        case '\\': out[n++] = '\\'; arg++; break;
        case 'x': {
            char hex[3] = {0, 0, 0};
            char *end;
            if (arg[1] == '\0' || arg[2] == '\0')
                fail(s, "bad escape \\x: two hex digits expected");
            hex[0] = arg[1];
            hex[1] = arg[2];
            out[n++] = (char)strtol(hex, &end, 16);
            if (*end != '\0')
                fail(s, "bad escape \\x%s: two hex digits expected", hex);
            arg += 3;
            break;
        }
        default:
            fail(s, "unknown escape '\\%c'", *arg ? *arg : ' ');
        }
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Writes len bytes to the terminal. */
static void send_bytes(Session *s, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w;
        if (s->fd < 0)
            fail(s, "cannot send: the terminal is closed");
        w = write(s->fd, buf, len);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
            pump(s, 0.01); /* the command may be waiting for us to read */
            continue;
        }
        if (w < 0)
            fail(s, "cannot send: %s", strerror(errno));
        buf += w;
        len -= (size_t)w;
    }
}

/* Finds needle (len bytes) in the text after the mark. */
static const char *find_text(Session *s, const char *needle, size_t len)
{
    return memmem(s->text + s->mark, s->text_len - s->mark, needle, len);
}

static void do_expect(Session *s, const char *arg)
{
    size_t len;
    char *needle = unescape(s, arg, &len);
    double deadline = now() + s->timeout;
    for (;;) {
        const char *hit = find_text(s, needle, len);
        double left;
        if (hit != NULL) {
            s->mark = (size_t)(hit - s->text) + len;
            free(needle);
            return;
        }
        left = deadline - now();
        if (left <= 0 || s->fd < 0) {
            fprintf(stderr, "ptyrun: %s:%d: expected '", s->script_name, s->lineno);
            print_visible(stderr, needle, len);
            fprintf(stderr, "'\n");
            fail(s, "%s", s->fd < 0 ? "the terminal closed first"
                                    : "timed out waiting for it");
        }
        pump(s, left > 0.2 ? 0.2 : left);
    }
}

static void do_reject(Session *s, const char *arg)
{
    size_t len;
    char *needle = unescape(s, arg, &len);
    pump(s, 0);
    if (find_text(s, needle, len) != NULL) {
        fprintf(stderr, "ptyrun: %s:%d: the output contains '", s->script_name, s->lineno);
        print_visible(stderr, needle, len);
        fprintf(stderr, "'\n");
        fail(s, "rejected text found");
    }
    free(needle);
}

static void do_sleep(Session *s, const char *arg)
{
    double end = now() + atof(arg) / 1000.0;
    for (;;) {
        double left = end - now();
        if (left <= 0)
            break;
        if (!pump(s, left))
            usleep((useconds_t)(left > 0.05 ? 50000 : left * 1e6));
    }
}

/* Waits for EOF on the terminal, then for the child. */
static void wait_eof(Session *s)
{
    double deadline = now() + s->timeout;
    while (s->fd >= 0) {
        double left = deadline - now();
        if (left <= 0)
            fail(s, "timed out waiting for the command to close the terminal");
        pump(s, left > 0.2 ? 0.2 : left);
    }
    while (s->pid > 0) {
        reap(s, false);
        if (s->pid > 0) {
            if (now() > deadline)
                fail(s, "timed out waiting for the command to exit");
            usleep(10000);
        }
    }
}

static void do_expect_exit(Session *s, const char *arg)
{
    char *end;
    long want = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0')
        fail(s, "expect_exit needs a number, got '%s'", arg);
    wait_eof(s);
    if (!WIFEXITED(s->status))
        fail(s, "expected exit status %ld, the command was killed by signal %d", want,
             WIFSIGNALED(s->status) ? WTERMSIG(s->status) : 0);
    if (WEXITSTATUS(s->status) != want)
        fail(s, "expected exit status %ld, got %d", want, WEXITSTATUS(s->status));
}

/* Runs one script line. */
static void run_line(Session *s, char *line)
{
    char *cmd, *arg;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    cmd = line + strspn(line, " \t");
    if (*cmd == '\0' || *cmd == '#')
        return;
    arg = cmd + strcspn(cmd, " \t");
    if (*arg != '\0')
        *arg++ = '\0';
    if (strcmp(cmd, "send") == 0) {
        size_t n;
        char *bytes = unescape(s, arg, &n);
        pump(s, 0);
        send_bytes(s, bytes, n);
        free(bytes);
    } else if (strcmp(cmd, "expect") == 0) {
        do_expect(s, arg);
    } else if (strcmp(cmd, "reject") == 0) {
        do_reject(s, arg);
    } else if (strcmp(cmd, "sleep") == 0) {
        do_sleep(s, arg);
    } else if (strcmp(cmd, "expect_eof") == 0) {
        wait_eof(s);
    } else if (strcmp(cmd, "expect_exit") == 0) {
        do_expect_exit(s, arg);
    } else {
        fail(s, "unknown command '%s'", cmd);
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: ptyrun [-t SECONDS] [-o LOG] SCRIPT -- COMMAND [ARGS...]\n");
    return 2;
}

int main(int argc, char **argv)
{
    Session s;
    struct winsize ws;
    const char *script = NULL, *term;
    FILE *in;
    char *line = NULL;
    size_t cap = 0;
    int i;

    memset(&s, 0, sizeof s);
    s.timeout = 10;
    clean_output(&s); /* an empty text to search */
    for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
            s.timeout = atof(argv[++i]);
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            s.log = fopen(argv[++i], "wb");
            if (s.log == NULL) {
                perror(argv[i]);
                return 2;
            }
        } else if (script == NULL && (argv[i][0] != '-' || argv[i][1] == '\0')) {
            script = argv[i];
        } else {
            return usage();
        }
    }
    if (script == NULL || i + 1 >= argc || s.timeout <= 0)
        return usage();
    s.script_name = script;
    in = strcmp(script, "-") == 0 ? stdin : fopen(script, "r");
    if (in == NULL) {
        perror(script);
        return 2;
    }

    memset(&ws, 0, sizeof ws);
    ws.ws_row = 24;
    ws.ws_col = 80;
    term = getenv("PTYRUN_TERM");
    fflush(NULL);
    s.pid = forkpty(&s.fd, NULL, NULL, &ws);
    if (s.pid < 0) {
        perror("ptyrun: forkpty");
        return 2;
    }
    if (s.pid == 0) {
        setenv("TERM", term ? term : "xterm", 1);
        unsetenv("COLUMNS");
        unsetenv("LINES");
        execvp(argv[i + 1], argv + i + 1);
        fprintf(stderr, "ptyrun: cannot run %s: %s\n", argv[i + 1], strerror(errno));
        _exit(127);
    }
    fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);
    signal(SIGPIPE, SIG_IGN);

    while (getline(&line, &cap, in) >= 0) {
        s.lineno++;
        run_line(&s, line);
    }
    free(line);
    if (in != stdin)
        fclose(in);

    /* The script is done: hang up, as a closing terminal does. */
    if (s.fd >= 0) {
        close(s.fd);
        s.fd = -1;
    }
    if (s.pid > 0) {
        double deadline = now() + 5;
        kill(s.pid, SIGHUP);
        while (s.pid > 0 && now() < deadline) {
            reap(&s, false);
            if (s.pid > 0)
                usleep(10000);
        }
        if (s.pid > 0) {
            kill(s.pid, SIGKILL);
            reap(&s, true);
        }
    }
    if (s.log)
        fclose(s.log);
    free(s.raw);
    free(s.text);
    return 0;
}
