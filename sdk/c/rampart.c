/* Rampart native contracts: the C SDK (see rampart.h, proto/NATIVE_ABI.md). */
#include "rampart.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    TAG_CALL = 0x01, TAG_STORAGE_VALUE = 0x02, TAG_CALL_RESULT = 0x03, TAG_PRELOAD = 0x04,
    TAG_STORAGE_READ = 0x10, TAG_STORAGE_WRITE = 0x11, TAG_LOG = 0x12,
    TAG_CALL_CONTRACT = 0x13, TAG_STORAGE_SEEN = 0x14, TAG_RETURN = 0x1E, TAG_REVERT = 0x1F,
    TAG_HELLO = 0x20,
};
/* HELLO feature bits. */
enum { FEATURE_PRELOAD = 1 };

/* Ends the process over a broken protocol, saying why on stderr (the host puts its tail in the
 * call's error). */
_Noreturn static void die(const char *why) {
    static const char prefix[] = "rampart-sdk: ";
    (void)!write(2, prefix, sizeof prefix - 1);
    (void)!write(2, why, strlen(why));
    (void)!write(2, "\n", 1);
    _exit(1);
}

static void write_all(const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = write(1, b, n);
        if (w <= 0) _exit(1);
        b += w;
        n -= (size_t)w;
    }
}

/* Input from the host, read ahead: a frame usually arrives in one read (the host writes each
 * frame at once), so a frame costs one system call, not two (header, then payload) — under
 * gVisor's ptrace platform every system call is a round trip through the sentry. */
static uint8_t inbuf[16384];
static size_t in_pos, in_len;

/* Reads what is available into inbuf; returns the bytes read (0 at the end of stdin). */
static size_t fill(void) {
    ssize_t r = read(0, inbuf, sizeof inbuf);
    if (r < 0) _exit(1);
    in_pos = 0;
    in_len = (size_t)r;
    return in_len;
}

static void read_all(void *p, size_t n) {
    uint8_t *b = p;
    while (n > 0) {
        if (in_pos == in_len) {
            if (n >= sizeof inbuf) {
                /* Large payloads go straight into their buffer. */
                ssize_t r = read(0, b, n);
                if (r <= 0) _exit(1);
                b += r;
                n -= (size_t)r;
                continue;
            }
            if (fill() == 0) _exit(1);
        }
        size_t take = in_len - in_pos < n ? in_len - in_pos : n;
        memcpy(b, inbuf + in_pos, take);
        in_pos += take;
        b += take;
        n -= take;
    }
}

static void put_u32(uint8_t *o, uint32_t v) { for (int i = 0; i < 4; i++) o[i] = (uint8_t)(v >> (8 * i)); }
static void put_u64(uint8_t *o, uint64_t v) { for (int i = 0; i < 8; i++) o[i] = (uint8_t)(v >> (8 * i)); }
static uint64_t get_u64(const uint8_t *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }

/* Output to the host, held back while nothing waits for it: storage writes and logs are not
 * answered, so they go out together with the next frame that is (a read, a call) or that ends
 * the call — one write, and one wake-up of the host, instead of one per frame. */
static uint8_t outbuf[16384];
static size_t out_len;

static void flush_out(void) {
    if (out_len) write_all(outbuf, out_len);
    out_len = 0;
}

void rampart_write_frame(uint8_t tag, const void *payload, uint32_t len) {
    uint8_t h[5];
    put_u32(h, len);
    h[4] = tag;
    if (out_len + 5 + (size_t)len > sizeof outbuf) flush_out();
    if (5 + (size_t)len <= sizeof outbuf) {
        memcpy(outbuf + out_len, h, 5);
        if (len) memcpy(outbuf + out_len + 5, payload, len);
        out_len += 5 + (size_t)len;
    } else {
        write_all(h, 5);
        write_all(payload, len);
    }
    if (tag != TAG_STORAGE_WRITE && tag != TAG_LOG && tag != TAG_STORAGE_SEEN) flush_out();
}

/* Slots whose value this call knows: the host's PRELOAD, values it answered, the call's own
 * writes. A read of one is answered here and reported with STORAGE_SEEN, held like a write, so
 * it costs no round trip; the node still accounts for it and checks the value. Cleared at each
 * call and at each call to another contract (which may change this storage). Open addressing;
 * an entry is live when its generation is the current one, so clearing is one increment. */
#define KNOWN_CAP 2048u
#define KNOWN_MAX 1536u
static struct { uint32_t gen; uint8_t k[32]; uint8_t v[32]; } known[KNOWN_CAP];
static uint32_t known_gen = 1, known_n;

static void known_clear(void) { known_gen++; known_n = 0; }

static uint32_t known_slot(const uint8_t *k) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 32; i++) h = (h ^ k[i]) * 16777619u;
    uint32_t i = h & (KNOWN_CAP - 1);
    while (known[i].gen == known_gen && memcmp(known[i].k, k, 32) != 0) i = (i + 1) & (KNOWN_CAP - 1);
    return i;
}

static const uint8_t *known_get(const uint8_t *k) {
    uint32_t i = known_slot(k);
    return known[i].gen == known_gen ? known[i].v : NULL;
}

static void known_put(const uint8_t *k, const uint8_t *v) {
    uint32_t i = known_slot(k);
    if (known[i].gen != known_gen) {
        if (known_n >= KNOWN_MAX) return; /* full: later reads of it ask the host */
        known[i].gen = known_gen;
        memcpy(known[i].k, k, 32);
        known_n++;
    }
    memcpy(known[i].v, v, 32);
}

/* Tells the host that this process takes PRELOAD frames; written before it first reads. */
static void hello(void) {
    uint8_t bits[4];
    put_u32(bits, FEATURE_PRELOAD);
    rampart_write_frame(TAG_HELLO, bits, 4);
}

/* Reads one frame into a malloc'd buffer. At a clean end of stdin (before a frame), exits with
 * status `eof_status`. */
static uint8_t read_frame_or_exit(uint8_t **payload, uint32_t *len, int eof_status) {
    uint8_t h[5];
    if (in_pos == in_len && fill() == 0) _exit(eof_status);
    read_all(h, 5);
    *len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    *payload = malloc(*len ? *len : 1);
    if (!*payload) _exit(1);
    read_all(*payload, *len);
    return h[4];
}

static uint8_t read_frame(uint8_t **payload, uint32_t *len) {
    return read_frame_or_exit(payload, len, 1);
}

/* Reads the next call's frames: its PRELOAD, if any, into `known`, then the CALL. */
static uint8_t read_call_frame(uint8_t **payload, uint32_t *len, int eof_status) {
    known_clear();
    uint8_t tag = read_frame_or_exit(payload, len, eof_status);
    if (tag != TAG_PRELOAD) return tag;
    if (*len % 64 != 0) die("a PRELOAD frame that is not 64-byte entries");
    for (uint32_t at = 0; at < *len; at += 64) known_put(*payload + at, *payload + at + 32);
    free(*payload);
    return read_frame(payload, len);
}

/* Set while rampart_serve runs a handler: the end of a call jumps back to it. */
static int serving;
static jmp_buf serve_env;

/* Parses a CALL frame; 0 if it is not one. */
static int parse_call(uint8_t tag, uint8_t *p, uint32_t n, rampart_call *c) {
    if (tag != TAG_CALL || n < 145) return 0;
    memcpy(c->caller.b, p, 20);
    memcpy(c->address.b, p + 20, 20);
    memcpy(c->code_address.b, p + 40, 20);
    memcpy(c->origin.b, p + 60, 20);
    memcpy(c->value.b, p + 80, 32);
    c->gas_limit = get_u64(p + 112);
    c->block_number = get_u64(p + 120);
    c->timestamp = get_u64(p + 128);
    c->chain_id = get_u64(p + 136);
    c->is_static = p[144] & 1;
    c->calldata = p + 145;
    c->calldata_len = n - 145;
    return 1;
}

void rampart_read_call(rampart_call *c) {
    uint8_t *p;
    uint32_t n;
    hello();
    uint8_t tag = read_call_frame(&p, &n, 1);
    if (!parse_call(tag, p, n, c)) die("the first frame is not a CALL");
}

_Noreturn void rampart_serve(void (*handler)(const rampart_call *call)) {
    hello();
    for (;;) {
        uint8_t *p;
        uint32_t n;
        /* The host closed stdin between calls: done. */
        uint8_t tag = read_call_frame(&p, &n, 0);
        static rampart_call c;
        if (!parse_call(tag, p, n, &c)) die("the first frame is not a CALL");
        serving = 1;
        if (setjmp(serve_env) == 0) {
            handler(&c);
            rampart_write_frame(TAG_RETURN, NULL, 0);
        }
        serving = 0;
        free(p);
    }
}

/* Ends the call whose answer was just written. */
_Noreturn static void end_call(void) {
    if (serving) longjmp(serve_env, 1);
    _exit(0);
}

uint32_t rampart_selector(const rampart_call *c) {
    if (c->calldata_len < 4) return 0;
    const uint8_t *d = c->calldata;
    return (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
}

rampart_word rampart_sload(const rampart_word *key) {
    rampart_word v;
    uint8_t *p;
    uint32_t n;
    const uint8_t *k = known_get(key->b);
    if (k) {
        uint8_t b[64];
        memcpy(b, key->b, 32);
        memcpy(b + 32, k, 32);
        memcpy(v.b, k, 32);
        rampart_write_frame(TAG_STORAGE_SEEN, b, 64);
        return v;
    }
    rampart_write_frame(TAG_STORAGE_READ, key->b, 32);
    if (read_frame(&p, &n) != TAG_STORAGE_VALUE || n != 32) die("expected a STORAGE_VALUE");
    memcpy(v.b, p, 32);
    free(p);
    known_put(key->b, v.b);
    return v;
}

void rampart_sstore(const rampart_word *key, const rampart_word *value) {
    uint8_t b[64];
    memcpy(b, key->b, 32);
    memcpy(b + 32, value->b, 32);
    known_put(key->b, value->b);
    rampart_write_frame(TAG_STORAGE_WRITE, b, 64);
}

void rampart_log(const rampart_word *topics, uint8_t n_topics, const void *data, uint32_t len) {
    if (n_topics > 4) n_topics = 4;
    uint32_t total = 1 + 32u * n_topics + len;
    uint8_t *b = malloc(total);
    if (!b) _exit(1);
    b[0] = n_topics;
    memcpy(b + 1, topics, 32u * n_topics);
    if (len) memcpy(b + 1 + 32u * n_topics, data, len);
    rampart_write_frame(TAG_LOG, b, total);
    free(b);
}

int rampart_call_contract(int kind, const rampart_address *target, const rampart_word *value,
                          uint64_t gas, const void *input, uint32_t len,
                          uint8_t **out, uint32_t *out_len, uint64_t *gas_used) {
    uint32_t total = 61 + len;
    uint8_t *b = malloc(total);
    if (!b) _exit(1);
    b[0] = (uint8_t)kind;
    memcpy(b + 1, target->b, 20);
    memcpy(b + 21, value->b, 32);
    put_u64(b + 53, gas);
    if (len) memcpy(b + 61, input, len);
    rampart_write_frame(TAG_CALL_CONTRACT, b, total);
    free(b);
    /* The callee may change this storage (re-entrancy, DELEGATECALL): forget what was known. */
    known_clear();
    uint8_t *p;
    uint32_t n;
    if (read_frame(&p, &n) != TAG_CALL_RESULT || n < 9) die("expected a CALL_RESULT");
    int ok = p[0] == 1;
    if (gas_used) *gas_used = get_u64(p + 1);
    if (out_len) *out_len = n - 9;
    if (out) {
        *out = NULL;
        if (n > 9 && (*out = malloc(n - 9))) memcpy(*out, p + 9, n - 9);
    }
    free(p);
    return ok;
}

_Noreturn void rampart_return(const void *data, uint32_t len) {
    rampart_write_frame(TAG_RETURN, data, len);
    end_call();
}

_Noreturn void rampart_revert(const void *data, uint32_t len) {
    rampart_write_frame(TAG_REVERT, data, len);
    end_call();
}

_Noreturn void rampart_revert_msg(const char *message) {
    /* Error(string): 0x08c379a0, offset 0x20, length, padded bytes. */
    size_t n = strlen(message);
    size_t padded = (n + 31) / 32 * 32;
    uint32_t total = (uint32_t)(4 + 64 + padded);
    uint8_t *b = calloc(1, total);
    if (!b) _exit(1);
    b[0] = 0x08; b[1] = 0xc3; b[2] = 0x79; b[3] = 0xa0;
    b[4 + 31] = 0x20;
    rampart_word l = rampart_word_from_u64(n);
    memcpy(b + 36, l.b, 32);
    memcpy(b + 68, message, n);
    rampart_write_frame(TAG_REVERT, b, total);
    free(b);
    end_call();
}

/* ---- keccak256 (Keccak-f[1600], rate 136, original padding 0x01) ---- */

static const uint64_t RC[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL,
    0x000000000000808bULL, 0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL,
    0x000000000000008aULL, 0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL, 0x8000000000008003ULL,
    0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
static const int ROT[25] = {0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43,
                            25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14};

static uint64_t rol(uint64_t x, int s) { return s ? (x << s) | (x >> (64 - s)) : x; }

static void keccakf(uint64_t a[25]) {
    for (int round = 0; round < 24; round++) {
        uint64_t c[5], d[5], b[25];
        for (int x = 0; x < 5; x++) c[x] = a[x] ^ a[x + 5] ^ a[x + 10] ^ a[x + 15] ^ a[x + 20];
        for (int x = 0; x < 5; x++) d[x] = c[(x + 4) % 5] ^ rol(c[(x + 1) % 5], 1);
        for (int i = 0; i < 25; i++) a[i] ^= d[i % 5];
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++) b[y + 5 * ((2 * x + 3 * y) % 5)] = rol(a[x + 5 * y], ROT[x + 5 * y]);
        for (int x = 0; x < 5; x++)
            for (int y = 0; y < 5; y++) a[x + 5 * y] = b[x + 5 * y] ^ (~b[(x + 1) % 5 + 5 * y] & b[(x + 2) % 5 + 5 * y]);
        a[0] ^= RC[round];
    }
}

void rampart_keccak256(const void *data, size_t len, rampart_word *out) {
    uint64_t s[25] = {0};
    const uint8_t *p = data;
    uint8_t block[136];
    for (;;) {
        size_t take = len < 136 ? len : 136;
        memset(block, 0, sizeof block);
        memcpy(block, p, take);
        if (take < 136) {
            block[take] ^= 0x01;
            block[135] ^= 0x80;
        }
        for (int i = 0; i < 17; i++) {
            uint64_t w = 0;
            for (int j = 7; j >= 0; j--) w = w << 8 | block[8 * i + j];
            s[i] ^= w;
        }
        keccakf(s);
        if (take < 136) break;
        p += 136;
        len -= 136;
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) out->b[8 * i + j] = (uint8_t)(s[i] >> (8 * j));
}

rampart_word rampart_mapping_slot(const rampart_word *slot, const rampart_word *key) {
    uint8_t b[64];
    rampart_word out;
    memcpy(b, key->b, 32);
    memcpy(b + 32, slot->b, 32);
    rampart_keccak256(b, 64, &out);
    return out;
}

rampart_word rampart_word_from_u64(uint64_t v) {
    rampart_word w;
    memset(w.b, 0, 32);
    for (int i = 0; i < 8; i++) w.b[31 - i] = (uint8_t)(v >> (8 * i));
    return w;
}

rampart_word rampart_word_from_address(const rampart_address *a) {
    rampart_word w;
    memset(w.b, 0, 12);
    memcpy(w.b + 12, a->b, 20);
    return w;
}

int rampart_word_is_zero(const rampart_word *w) {
    for (int i = 0; i < 32; i++) if (w->b[i]) return 0;
    return 1;
}

int rampart_add(const rampart_word *a, const rampart_word *b, rampart_word *out) {
    unsigned carry = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned s = (unsigned)a->b[i] + b->b[i] + carry;
        out->b[i] = (uint8_t)s;
        carry = s >> 8;
    }
    return (int)carry;
}

int rampart_sub(const rampart_word *a, const rampart_word *b, rampart_word *out) {
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)a->b[i] - b->b[i] - borrow;
        borrow = d < 0;
        out->b[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    return borrow;
}

int rampart_cmp(const rampart_word *a, const rampart_word *b) {
    int c = memcmp(a->b, b->b, 32);
    return (c > 0) - (c < 0);
}
