/* Contracts that misbehave, for the containment tests. The first calldata byte picks the act:
 *   f  read host files            n  open network connections (port in bytes 1-2)
 *   b  fork bomb                  m  allocate far beyond the memory limit
 *   s  spin forever               k  try to kill the host daemon
 *   o  flood stdout with logs     w  write state without end
 *   g  garbage frame (byte 1: 0 unknown tag, 1 huge length, 2 truncated, 3 malformed read,
 *      4 a read of slot 0 reported as answered in the sandbox with a value the state does not
 *      hold, 5 a malformed HELLO)
 *   x  exit without returning     e  leave a daemon behind (setsid + fork), then return
 *   c  call: bytes 1-20 target, rest input; returns success byte + output
 *   r  return "ok"
 *   i  the benchmark's round trip: read slot 0, write it + 1, return the new value
 *   p  this process: calls it has served (word 0) and its pid (word 1); tells a persistent
 *      process from a fresh one
 *   q  return "ok" and exit (a contract that serves one call per process)
 *   l  return "ok", then 50 ms later, idle between calls, write a stray RETURN frame "stale"
 *      (a kept process must not hand it to its next call)
 *   u  use about 600 ms of CPU time, then return "ok"
 *   a  slots 1-600 written (value = slot), then slots 1-1700 read twice: more slots than the
 *      SDK keeps for a call (1,536), so reads are answered by the SDK, the host and the node;
 *      returns the sum of the values read
 *   v  slot 0 + 1 written, then read back, then a call (bytes 1-20 target, rest input), then
 *      slot 0 and slot 1 read: returns the three reads (for preloaded slots: a written slot
 *      and a slot a nested call may change)
 * Built on rampart_serve, so one process serves several calls when deployed persistent.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "rampart.h"

static char out[4096];
static size_t outn;

static void note(const char *k, int err) {
    outn += (size_t)snprintf(out + outn, sizeof out - outn, "%s=%d;", k, err);
}

static int try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errno;
    close(fd);
    return 0;
}

static int try_connect(const char *ip, uint16_t port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return errno;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    int r = connect(s, (struct sockaddr *)&a, sizeof a);
    int e = r < 0 ? errno : 0;
    close(s);
    return e;
}

/* Calls the contract at calldata bytes 1-20 with the rest as input, without value; returns
 * whether it succeeded, its output in *res, *n. */
static int call_target(const rampart_call *c, uint8_t **res, uint32_t *n) {
    rampart_address t;
    memcpy(t.b, c->calldata + 1, 20);
    rampart_word zero;
    memset(zero.b, 0, 32);
    uint64_t used;
    return rampart_call_contract(RAMPART_CALL, &t, &zero, 1000000, c->calldata + 21, c->calldata_len - 21, res, n, &used);
}

/* Act l: the stray frame, written from a signal handler while the SDK waits for a call. */
static void late_frame(int sig) {
    (void)sig;
    static const uint8_t f[] = {5, 0, 0, 0, 0x1E, 's', 't', 'a', 'l', 'e'};
    ssize_t r = write(1, f, sizeof f);
    (void)r;
}

/* Calls this process has run (only a persistent process runs more than one). */
static uint64_t calls_served;

static void handle(const rampart_call *call) {
    const rampart_call c = *call;
    outn = 0;
    calls_served++;
    uint8_t act = c.calldata_len ? c.calldata[0] : 'r';
    switch (act) {
    case 'f':
        note("shadow", try_open("/etc/shadow"));
        note("passwd", try_open("/etc/passwd"));
        note("root", try_open("/root"));
        note("host_tmp", try_open("/var/tmp"));
        break;
    case 'n': {
        uint16_t port = c.calldata_len >= 3 ? (uint16_t)(c.calldata[1] << 8 | c.calldata[2]) : 80;
        note("local", try_connect("127.0.0.1", port));
        note("remote", try_connect("1.1.1.1", 53));
        break;
    }
    case 'b':
        for (;;) fork();
    case 'm': {
        for (;;) {
            char *p = malloc(16 << 20);
            if (!p) {
                fputs("out of memory\n", stderr);
                abort();
            }
            memset(p, 1, 16 << 20);
        }
    }
    case 's':
        for (;;) {}
    case 'k':
        note("kill_pid1", kill(1, SIGKILL) ? errno : 0);
        note("kill_parent", kill(getppid(), SIGKILL) ? errno : 0);
        break;
    case 'o': {
        static uint8_t data[1024];
        for (;;) rampart_log(NULL, 0, data, sizeof data);
    }
    case 'w':
        for (uint64_t i = 1;; i++) {
            rampart_word k = rampart_word_from_u64(i), v = rampart_word_from_u64(i);
            rampart_sstore(&k, &v);
        }
    case 'g': {
        uint8_t mode = c.calldata_len > 1 ? c.calldata[1] : 0;
        if (mode == 0) {
            rampart_write_frame(0x77, "junk", 4);
        } else if (mode == 1) {
            uint8_t h[5] = {0xff, 0xff, 0xff, 0x7f, 0x1e};
            write(1, h, 5);
            write(1, "AAAA", 4);
        } else if (mode == 2) {
            uint8_t h[7] = {100, 0, 0, 0, 0x1e, 'x', 'y'};
            write(1, h, 7);
            _exit(0);
        } else if (mode == 4) {
            uint8_t seen[64] = {0};
            seen[63] = 42;
            rampart_write_frame(0x14, seen, 64);
            rampart_return("lied", 4);
        } else if (mode == 5) {
            rampart_write_frame(0x20, "x", 1);
        } else {
            rampart_write_frame(0x10, "short", 5);
        }
        for (;;) pause();
    }
    case 'x':
        fputs("giving up\n", stderr);
        exit(3);
    case 'e':
        if (fork() == 0) {
            setsid();
            if (fork() == 0) for (;;) pause();
            _exit(0);
        }
        note("left_daemon", 0);
        break;
    case 'c': {
        if (c.calldata_len < 21) rampart_revert_msg("call: need a target");
        uint8_t *res;
        uint32_t n;
        int ok = call_target(&c, &res, &n);
        out[0] = (char)ok;
        memcpy(out + 1, res, n < sizeof out - 1 ? n : sizeof out - 1);
        rampart_return(out, 1 + n);
    }
    case 'i': {
        rampart_word k = rampart_word_from_u64(0), one = rampart_word_from_u64(1);
        rampart_word v = rampart_sload(&k);
        rampart_add(&v, &one, &v);
        rampart_sstore(&k, &v);
        rampart_return(v.b, 32);
    }
    case 'v': {
        rampart_word k0 = rampart_word_from_u64(0), k1 = rampart_word_from_u64(1);
        rampart_word one = rampart_word_from_u64(1), r[3];
        rampart_word v = rampart_sload(&k0);
        rampart_add(&v, &one, &v);
        rampart_sstore(&k0, &v);
        r[0] = rampart_sload(&k0);
        uint8_t *res;
        uint32_t n;
        if (c.calldata_len >= 21 && !call_target(&c, &res, &n)) rampart_revert_msg("v: the call failed");
        r[1] = rampart_sload(&k0);
        r[2] = rampart_sload(&k1);
        rampart_return(r, sizeof r);
    }
    case 'a': {
        rampart_word sum = rampart_word_from_u64(0);
        for (uint64_t i = 1; i <= 600; i++) {
            rampart_word k = rampart_word_from_u64(i);
            rampart_sstore(&k, &k);
        }
        for (int pass = 0; pass < 2; pass++)
            for (uint64_t i = 1; i <= 1700; i++) {
                rampart_word k = rampart_word_from_u64(i), v = rampart_sload(&k);
                rampart_add(&sum, &v, &sum);
            }
        rampart_return(sum.b, 32);
    }
    case 'u': {
        clock_t until = clock() + CLOCKS_PER_SEC * 6 / 10;
        volatile uint64_t x = 0;
        while (clock() < until) x++;
        rampart_return("ok", 2);
    }
    case 'l': {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = late_frame;
        sa.sa_flags = SA_RESTART; /* the SDK's read of the next call goes on */
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval t;
        memset(&t, 0, sizeof t);
        t.it_value.tv_usec = 50000;
        setitimer(ITIMER_REAL, &t, NULL);
        rampart_return("ok", 2);
    }
    case 'q':
        rampart_write_frame(0x1E, "ok", 2);
        _exit(0);
    case 'p': {
        rampart_word w[2] = {rampart_word_from_u64(calls_served), rampart_word_from_u64((uint64_t)getpid())};
        rampart_return(w, sizeof w);
    }
    default:
        rampart_return("ok", 2);
    }
    rampart_return(out, (uint32_t)outn);
}

int main(void) { rampart_serve(handle); }
