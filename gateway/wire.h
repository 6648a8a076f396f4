/*
 * wire.h -- the front<->keeper protocol: length-prefixed messages over a
 * socketpair.
 *
 * Every message is one frame (all integers big-endian):
 *   u32 length of what follows | u8 type | u64 request id | payload
 * REQUEST (front -> keeper) payload:
 *   u64 received_ms | u8 n, method[n] | u16 n, target[n] | u8 n, peer[n] |
 *   u16 header count, each: u8 n, name[n] | u16 n, value[n] |
 *   u32 n, body[n]
 * RESPONSE (keeper -> front) payload:
 *   u16 status | u32 n, body[n]
 * Nothing else exists. The decoder takes nothing on trust: every length is
 * bounded and must account for the frame exactly, names and values are
 * checked character by character, and the keeper derives path and query
 * from the target itself. A frame that fails any check is a broken front,
 * and the keeper drops it.
 */
#ifndef RG_WIRE_H
#define RG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/request.h"

enum {
	RG_WIRE_REQUEST = 1,
	RG_WIRE_RESPONSE = 2
};

#define RG_WIRE_HEAD 13               /* u32 + u8 + u64 */
#define RG_WIRE_MAX_HEADERS 100
#define RG_WIRE_MAX_TARGET 8192
#define RG_WIRE_MAX_VALUE 16384

/* The largest frame a front may send for the given body limit. */
size_t rg_wire_max_frame(size_t max_body);

/*
 * Encode a request or a response. Returns malloc'd bytes (caller frees)
 * with *len set, or NULL when a field is out of bounds or memory is short.
 */
uint8_t *rg_wire_encode_request(uint64_t id, const struct rg_request *req,
                                size_t *len);
uint8_t *rg_wire_encode_response(uint64_t id, const struct rg_response *resp,
                                 size_t *len);

/*
 * How long the frame starting at buf is (header included), once at least 4
 * bytes are there: 0 when more bytes are needed to know, -1 when the frame
 * would be larger than max_frame or shorter than a header.
 */
long long rg_wire_frame_len(const uint8_t *buf, size_t avail, size_t max_frame);

/*
 * Decode one whole frame (buf[0..len) as rg_wire_frame_len measured it).
 * On success *req is filled, its headers, strings and body all in one
 * allocation, req->block (rg_wire_request_free), and 0 returned; -1 when
 * the frame is malformed in any way.
 */
int rg_wire_decode_request(const uint8_t *buf, size_t len, uint64_t *id,
                           struct rg_request *req);
void rg_wire_request_free(struct rg_request *req);
int rg_wire_decode_response(const uint8_t *buf, size_t len, uint64_t *id,
                            struct rg_response *resp);

#endif
