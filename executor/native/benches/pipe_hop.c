/* The hop a native call makes from the contract host to its contract process and back, timed
 * inside the sandbox (native_call.rs runs this in a gVisor sandbox of its own, on the same
 * platform as the contract hosts): a child echoes on pipes, and for each line on stdin the
 * parent writes a call-sized frame (220 bytes) to it, reads an answer-sized one (175 bytes) back
 * and prints the round trip in microseconds. Paced by whoever writes the lines, like the calls.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

int main(void) {
    int to_child[2], to_parent[2];
    char buf[256] = {0}, line[64];
    if (pipe(to_child) || pipe(to_parent)) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        while (read(to_child[0], buf, 220) > 0)
            if (write(to_parent[1], buf, 175) != 175) return 1;
        return 0;
    }
    close(to_child[0]);
    close(to_parent[1]);
    while (fgets(line, sizeof line, stdin)) {
        double t = now_us();
        if (write(to_child[1], buf, 220) != 220 || read(to_parent[0], buf, sizeof buf) <= 0) return 1;
        printf("%.1f\n", now_us() - t);
        fflush(stdout);
    }
    return 0;
}
