/* A counter with the same ABI and storage as sdk/rust/examples/counter.rs:
 * get(), increment(), add(uint256); event Incremented(address indexed by, uint256 value). */
#include <string.h>
#include "rampart.h"

static uint32_t sel(const char *sig) {
    rampart_word h;
    rampart_keccak256(sig, strlen(sig), &h);
    return (uint32_t)h.b[0] << 24 | (uint32_t)h.b[1] << 16 | (uint32_t)h.b[2] << 8 | h.b[3];
}

static rampart_word bump(const rampart_call *c, const rampart_word *by) {
    rampart_word slot = rampart_word_from_u64(0), v = rampart_sload(&slot);
    rampart_add(&v, by, &v);
    rampart_sstore(&slot, &v);
    rampart_word topics[2];
    const char *ev = "Incremented(address,uint256)";
    rampart_keccak256(ev, strlen(ev), &topics[0]);
    topics[1] = rampart_word_from_address(&c->caller);
    rampart_log(topics, 2, v.b, 32);
    return v;
}

static void handle(const rampart_call *call) {
    const rampart_call c = *call;
    uint32_t s = rampart_selector(&c);
    if (s == sel("get()")) {
        rampart_word slot = rampart_word_from_u64(0), v = rampart_sload(&slot);
        rampart_return(v.b, 32);
    } else if (s == sel("increment()")) {
        rampart_word one = rampart_word_from_u64(1), v = bump(&c, &one);
        rampart_return(v.b, 32);
    } else if (s == sel("add(uint256)") && c.calldata_len >= 36) {
        rampart_word by;
        memcpy(by.b, c.calldata + 4, 32);
        rampart_word v = bump(&c, &by);
        rampart_return(v.b, 32);
    }
    rampart_revert_msg("counter: unknown function");
}

int main(void) { rampart_serve(handle); }
