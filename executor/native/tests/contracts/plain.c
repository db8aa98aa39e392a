/* A contract without an SDK: the frames of proto/NATIVE_ABI.md by hand, and only the oldest of
 * them (no HELLO, so the host never sends it a PRELOAD). Each call: reads slot 0 twice, writes
 * it + 1, returns the two reads and the new value (three words). Shows what any language needs,
 * and that a contract which knows nothing of preloading still gets its reads answered by the
 * host from the preload, one frame at a time.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static void put(const void *p, size_t n) {
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(1, b, n);
        if (w <= 0) _exit(1);
        b += w, n -= (size_t)w;
    }
}

/* Returns 0 at the end of stdin before a frame. */
static int get(void *p, size_t n, int eof_ok) {
    uint8_t *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(0, b + got, n - got);
        if (r == 0 && got == 0 && eof_ok) return 0;
        if (r <= 0) _exit(1);
        got += (size_t)r;
    }
    return 1;
}

static void frame(uint8_t tag, const void *p, uint32_t n) {
    uint8_t h[5] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16), (uint8_t)(n >> 24), tag};
    put(h, 5);
    put(p, n);
}

/* Reads a frame of `tag` into buf (at most cap bytes); exits on anything else. */
static uint32_t expect(uint8_t tag, uint8_t *buf, uint32_t cap, int eof_ok) {
    uint8_t h[5];
    if (!get(h, 5, eof_ok)) _exit(0);
    uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    if (h[4] != tag || n > cap) _exit(2);
    get(buf, n, 0);
    return n;
}

int main(void) {
    static uint8_t call[1 << 16];
    for (;;) {
        expect(0x01, call, sizeof call, 1);
        uint8_t key[32] = {0}, out[96], wr[64];
        for (int i = 0; i < 2; i++) {
            frame(0x10, key, 32);
            expect(0x02, out + 32 * i, 32, 0);
        }
        memcpy(out + 64, out + 32, 32);
        for (int i = 31; i >= 0 && ++out[64 + i] == 0; i--) {}
        memcpy(wr, key, 32);
        memcpy(wr + 32, out + 64, 32);
        frame(0x11, wr, 64);
        frame(0x1E, out, 96);
    }
}
