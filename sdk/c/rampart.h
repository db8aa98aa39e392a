/* Rampart native contracts: the C SDK.
 *
 * A native contract is a static x86-64 Linux executable. Its main() hands a handler to
 * rampart_serve(), which runs it once per call; the handler reads and writes storage, emits
 * logs, calls other contracts, and ends the call with rampart_return() or rampart_revert().
 * The host runs each call in a fresh process unless the contract was deployed with persistent
 * processes, in which case one process may serve many calls (so keep nothing you rely on in
 * memory between calls). The wire format (frames over stdin/stdout) is in proto/NATIVE_ABI.md.
 *
 * Words (keys, values, topics, 256-bit numbers) are 32 bytes big-endian, as in the EVM.
 * Build: make (librampart.a), then gcc -static -O2 contract.c -L. -lrampart.
 */
#ifndef RAMPART_H
#define RAMPART_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct { uint8_t b[32]; } rampart_word;
typedef struct { uint8_t b[20]; } rampart_address;

typedef struct {
    rampart_address caller;       /* msg.sender */
    rampart_address address;      /* address(this): whose storage the call uses */
    rampart_address code_address; /* where the code lives (differs under DELEGATECALL) */
    rampart_address origin;       /* tx.origin */
    rampart_word value;           /* msg.value */
    uint64_t gas_limit;
    uint64_t block_number;
    uint64_t timestamp;
    uint64_t chain_id;
    int is_static;
    uint8_t *calldata;            /* owned by the SDK, valid for the whole call */
    uint32_t calldata_len;
} rampart_call;

enum { RAMPART_CALL = 0, RAMPART_STATICCALL = 1, RAMPART_DELEGATECALL = 2 };

/* Serves calls until the host closes stdin: reads each CALL frame and runs handler(call).
 * rampart_return/rampart_revert end the call and come back here; a handler that returns
 * without either returns empty data. *call and its calldata are valid until the call ends.
 * Never returns. */
_Noreturn void rampart_serve(void (*handler)(const rampart_call *call));

/* One call per process, without rampart_serve: reads the CALL frame (call once, first);
 * rampart_return/rampart_revert then exit. Exits the process on a broken stream. */
void rampart_read_call(rampart_call *call);
/* The function selector (first 4 calldata bytes, big-endian), 0 if shorter. */
uint32_t rampart_selector(const rampart_call *call);

/* Reads a slot. Slots preloaded for the call, written or already read in it are answered
 * without asking the host (and reported to it); a call to another contract forgets them. */
rampart_word rampart_sload(const rampart_word *key);
void rampart_sstore(const rampart_word *key, const rampart_word *value);
void rampart_log(const rampart_word *topics, uint8_t n_topics, const void *data, uint32_t len);

/* Calls another contract. Returns 1 on success, 0 on revert/failure. *out (malloc'd, may be
 * NULL when empty) receives the return or revert data. */
int rampart_call_contract(int kind, const rampart_address *target, const rampart_word *value,
                          uint64_t gas, const void *input, uint32_t len,
                          uint8_t **out, uint32_t *out_len, uint64_t *gas_used);

_Noreturn void rampart_return(const void *data, uint32_t len);
_Noreturn void rampart_revert(const void *data, uint32_t len);
/* Reverts with Solidity's Error(string). */
_Noreturn void rampart_revert_msg(const char *message);

/* Low level: one frame (len u32 LE, tag u8, payload). Storage writes (0x11), logs (0x12) and
 * reads answered from what the call knows (0x14) are held in a buffer until a frame of another
 * tag (which flushes them before itself) or the buffer fills: they are not answered, so sending
 * them with the next frame saves a wake-up. */
void rampart_write_frame(uint8_t tag, const void *payload, uint32_t len);

/* Helpers. */
void rampart_keccak256(const void *data, size_t len, rampart_word *out);
/* Solidity mapping slot: keccak256(key . slot). */
rampart_word rampart_mapping_slot(const rampart_word *slot, const rampart_word *key);
rampart_word rampart_word_from_u64(uint64_t v);
rampart_word rampart_word_from_address(const rampart_address *a);
int rampart_word_is_zero(const rampart_word *w);
/* 256-bit arithmetic; return 1 on overflow/underflow (result then wraps). */
int rampart_add(const rampart_word *a, const rampart_word *b, rampart_word *out);
int rampart_sub(const rampart_word *a, const rampart_word *b, rampart_word *out);
/* -1, 0, 1 */
int rampart_cmp(const rampart_word *a, const rampart_word *b);

#ifdef __cplusplus
}
#endif
#endif
