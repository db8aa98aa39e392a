/* An ERC-20-like token with the same ABI and storage layout as sdk/rust/examples/token.rs:
 * slot 0 balances, slot 1 allowances, slot 2 totalSupply, slot 3 owner (first minter). */
#include <string.h>
#include "rampart.h"

static uint32_t sel(const char *sig) {
    rampart_word h;
    rampart_keccak256(sig, strlen(sig), &h);
    return (uint32_t)h.b[0] << 24 | (uint32_t)h.b[1] << 16 | (uint32_t)h.b[2] << 8 | h.b[3];
}

/* ABI argument i as a word / an address. */
static rampart_word arg(const rampart_call *c, int i) {
    rampart_word w;
    if (c->calldata_len < 4 + 32u * (unsigned)(i + 1)) rampart_revert_msg("bad calldata");
    memcpy(w.b, c->calldata + 4 + 32 * i, 32);
    return w;
}

static rampart_address arg_address(const rampart_call *c, int i) {
    rampart_word w = arg(c, i);
    rampart_address a;
    memcpy(a.b, w.b + 12, 20);
    return a;
}

static rampart_word balance_slot(const rampart_address *who) {
    rampart_word slot = rampart_word_from_u64(0), key = rampart_word_from_address(who);
    return rampart_mapping_slot(&slot, &key);
}

static rampart_word allowance_slot(const rampart_address *owner, const rampart_address *spender) {
    rampart_word slot = rampart_word_from_u64(1), k1 = rampart_word_from_address(owner),
                 k2 = rampart_word_from_address(spender);
    rampart_word inner = rampart_mapping_slot(&slot, &k1);
    return rampart_mapping_slot(&inner, &k2);
}

static void event2(const char *sig, const rampart_address *a, const rampart_address *b, const rampart_word *v) {
    rampart_word t[3];
    rampart_keccak256(sig, strlen(sig), &t[0]);
    t[1] = rampart_word_from_address(a);
    t[2] = rampart_word_from_address(b);
    rampart_log(t, 3, v->b, 32);
}

static void move_tokens(const rampart_address *from, const rampart_address *to, const rampart_word *amount) {
    rampart_word fs = balance_slot(from), fb = rampart_sload(&fs);
    if (rampart_cmp(&fb, amount) < 0) rampart_revert_msg("ERC20: transfer amount exceeds balance");
    rampart_sub(&fb, amount, &fb);
    rampart_sstore(&fs, &fb);
    rampart_word ts = balance_slot(to), tb = rampart_sload(&ts);
    rampart_add(&tb, amount, &tb);
    rampart_sstore(&ts, &tb);
    event2("Transfer(address,address,uint256)", from, to, amount);
}

static _Noreturn void return_bool(int v) {
    rampart_word w = rampart_word_from_u64(v ? 1 : 0);
    rampart_return(w.b, 32);
}

static void handle(const rampart_call *call) {
    const rampart_call c = *call;
    uint32_t s = rampart_selector(&c);
    if (s == sel("decimals()")) {
        rampart_word w = rampart_word_from_u64(18);
        rampart_return(w.b, 32);
    } else if (s == sel("totalSupply()")) {
        rampart_word slot = rampart_word_from_u64(2), v = rampart_sload(&slot);
        rampart_return(v.b, 32);
    } else if (s == sel("balanceOf(address)")) {
        rampart_address who = arg_address(&c, 0);
        rampart_word slot = balance_slot(&who), v = rampart_sload(&slot);
        rampart_return(v.b, 32);
    } else if (s == sel("allowance(address,address)")) {
        rampart_address o = arg_address(&c, 0), sp = arg_address(&c, 1);
        rampart_word slot = allowance_slot(&o, &sp), v = rampart_sload(&slot);
        rampart_return(v.b, 32);
    } else if (s == sel("transfer(address,uint256)")) {
        rampart_address to = arg_address(&c, 0);
        rampart_word amount = arg(&c, 1);
        move_tokens(&c.caller, &to, &amount);
        return_bool(1);
    } else if (s == sel("approve(address,uint256)")) {
        rampart_address sp = arg_address(&c, 0);
        rampart_word amount = arg(&c, 1), slot = allowance_slot(&c.caller, &sp);
        rampart_sstore(&slot, &amount);
        event2("Approval(address,address,uint256)", &c.caller, &sp, &amount);
        return_bool(1);
    } else if (s == sel("transferFrom(address,address,uint256)")) {
        rampart_address from = arg_address(&c, 0), to = arg_address(&c, 1);
        rampart_word amount = arg(&c, 2), slot = allowance_slot(&from, &c.caller), allowed = rampart_sload(&slot);
        if (rampart_cmp(&allowed, &amount) < 0) rampart_revert_msg("ERC20: insufficient allowance");
        rampart_sub(&allowed, &amount, &allowed);
        rampart_sstore(&slot, &allowed);
        move_tokens(&from, &to, &amount);
        return_bool(1);
    } else if (s == sel("mint(address,uint256)")) {
        rampart_address to = arg_address(&c, 0);
        rampart_word amount = arg(&c, 1);
        rampart_word owner_slot = rampart_word_from_u64(3), owner = rampart_sload(&owner_slot);
        rampart_word me = rampart_word_from_address(&c.caller);
        if (rampart_word_is_zero(&owner)) rampart_sstore(&owner_slot, &me);
        else if (rampart_cmp(&owner, &me) != 0) rampart_revert_msg("ERC20: only the owner may mint");
        rampart_word ss = rampart_word_from_u64(2), supply = rampart_sload(&ss);
        if (rampart_add(&supply, &amount, &supply)) rampart_revert_msg("ERC20: supply overflow");
        rampart_sstore(&ss, &supply);
        rampart_word bs = balance_slot(&to), b = rampart_sload(&bs);
        rampart_add(&b, &amount, &b);
        rampart_sstore(&bs, &b);
        rampart_address zero;
        memset(zero.b, 0, 20);
        event2("Transfer(address,address,uint256)", &zero, &to, &amount);
        return_bool(1);
    }
    rampart_revert_msg("token: unknown function");
}

int main(void) { rampart_serve(handle); }
