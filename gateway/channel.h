/*
 * channel.h -- one end of the front<->keeper socketpair on the event loop:
 * reads whole frames (gateway/wire.h) and writes them, in order.
 *
 * A channel is reference counted: whoever holds an answer for it keeps a
 * reference, so that a reply arriving after the other side went away finds
 * a dead channel, not freed memory.
 */
#ifndef RG_CHANNEL_H
#define RG_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

typedef struct rg_channel rg_channel;

/*
 * Called with each complete frame (valid only during the call). Return 0
 * to go on, -1 to drop the peer (the channel closes). Called with
 * frame == NULL once when the peer has gone (EOF, error, or dropped).
 */
typedef int (*rg_channel_frame_fn)(void *ctx, rg_channel *ch,
                                   const uint8_t *frame, size_t len);

/* Open on fd (taken over); max_frame bounds what the peer may send. The
 * returned reference belongs to the open pipe and goes when it closes: a
 * caller that keeps the pointer takes its own with rg_channel_ref(). */
rg_channel *rg_channel_open(uv_loop_t *loop, int fd, size_t max_frame,
                            rg_channel_frame_fn fn, void *ctx);
/* Also call fn(ctx, ch) after the frames of one read were all handed to
 * the frame function (so that it may collect them and act on the run). */
void rg_channel_on_drained(rg_channel *ch, void (*fn)(void *ctx, rg_channel *ch));
/*
 * Read what the peer sent so far without waiting and hand its complete
 * frames to the frame function now, not at the loop's next read: for a
 * caller busy inside a callback of its own. Returns how many frames (the
 * drained function is not called). Does nothing inside the frame
 * function. EOF or an error is left to the loop's next read, which closes
 * the channel (so that what the caller sends before then still leaves);
 * the channel is not pumped again.
 */
int rg_channel_pump(rg_channel *ch);
/* Queue frame (taken over, freed after the write). 0, or -1 when the
 * channel is closed (frame freed). */
int rg_channel_send(rg_channel *ch, uint8_t *frame, size_t len);
/*
 * Gather frame (taken over) with the others gathered since the last
 * flush, all to leave in one write: one wake-up of the peer for a loop
 * iteration's frames rather than one for each. 0, or -1 when the channel
 * is closed (frame freed). Out of memory, the gathered frames and then
 * this one are sent as they are, in order.
 */
int rg_channel_gather(rg_channel *ch, uint8_t *frame, size_t len);
/* Send what was gathered, in order, in one write. NULL is fine. */
void rg_channel_flush(rg_channel *ch);
int rg_channel_alive(const rg_channel *ch);
void rg_channel_ref(rg_channel *ch);
void rg_channel_unref(rg_channel *ch);
/* Close (idempotent); the memory goes with the last reference. */
void rg_channel_close(rg_channel *ch);

#endif
