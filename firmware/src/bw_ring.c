/* battwatch ADC board: the frames kept until the Pi acknowledges them, merged when RAM is short. */
#include "bw_core.h"

#include <stddef.h>
#include <string.h>

#define WINDOW_MAX_MS 86400000UL /* protocol.md: a merged window stops at one day */

/* -- checks that let the ring survive a reset ----------------------------------------------
 * A reset pin or watchdog reset keeps the SRAM; a power loss does not. Each frame carries a
 * CRC of its own, and the header (count, sequence, uptime) another, so that what a reset
 * left is trusted only when it checks out, at O(1) cost per frame. */
static uint16_t frame_crc(const bw_frame_t *f) {
    uint16_t c = bw_crc16((const uint8_t *)f, offsetof(bw_frame_t, check));
    return bw_crc16_more(c, &f->flags, 1);
}

void bw_frame_seal(bw_frame_t *f) { f->check = frame_crc(f); }

bool bw_frame_sound(const bw_frame_t *f) { return f->check == frame_crc(f); }

static uint16_t keep_crc(const bw_state_t *s) {
    uint16_t c = bw_crc16((const uint8_t *)&s->keep_magic, sizeof s->keep_magic);
    c = bw_crc16_more(c, (const uint8_t *)&s->next_seq, sizeof s->next_seq);
    c = bw_crc16_more(c, (const uint8_t *)&s->keep_up, sizeof s->keep_up);
    c = bw_crc16_more(c, (const uint8_t *)&s->keep_up_hi, sizeof s->keep_up_hi);
    return bw_crc16_more(c, &s->count, 1);
}

void bw_keep_seal(bw_state_t *s) { s->keep_check = keep_crc(s); }

bool bw_keep_sound(const bw_state_t *s) {
    return s->keep_magic == BW_KEEP_MAGIC && s->count <= BW_RING_CAP && s->keep_check == keep_crc(s);
}

/* -- the frame ring ----------------------------------------------------------------------- */
bw_frame_t *bw_ring_at(bw_state_t *s, uint8_t i) { return &s->ring[i]; }

static void ring_remove(bw_state_t *s, uint8_t i) {
    memmove(&s->ring[i], &s->ring[i + 1], (size_t)(s->count - i - 1) * sizeof(bw_frame_t));
    s->count--;
    if (i < s->send_from) s->send_from--;
    bw_keep_seal(s);
}

static int16_t wavg(int16_t a, uint32_t wa, int16_t b, uint32_t wb) {
    if (a == BW_NONE) return b;
    if (b == BW_NONE) return a;
    int64_t num = (int64_t)a * wa + (int64_t)b * wb, den = (int64_t)wa + wb;
    return (int16_t)((num >= 0 ? num + den / 2 : num - den / 2) / den);
}

static int16_t lo16(int16_t a, int16_t b) {
    if (a == BW_NONE) return b;
    if (b == BW_NONE) return a;
    return a < b ? a : b;
}

static int16_t hi16(int16_t a, int16_t b) {
    if (a == BW_NONE) return b;
    if (b == BW_NONE) return a;
    return a > b ? a : b;
}

void bw_ring_merge(bw_frame_t *older, const bw_frame_t *newer) {
    /* power.md: window-weighted average, lowest minimum, highest maximum, summed window */
    uint32_t wa = older->window_ms, wb = newer->window_ms;
    for (uint8_t c = 0; c < 6; c += 3) {
        older->mv[c] = wavg(older->mv[c], wa, newer->mv[c], wb);
        older->mv[c + 1] = lo16(older->mv[c + 1], newer->mv[c + 1]);
        older->mv[c + 2] = hi16(older->mv[c + 2], newer->mv[c + 2]);
    }
    older->temp_dc = wavg(older->temp_dc, wa, newer->temp_dc, wb);
    older->flags |= newer->flags & (uint8_t)~BW_F_BOOT;
    older->seq = newer->seq;
    older->up_end = newer->up_end;
    older->window_ms = wa + wb;
    bw_frame_seal(older);
}

/* Make room for one frame: an old daemon never acknowledges, so frames it was sent are
 * not kept for it; otherwise merge the adjacent pair that spans the least time (oldest on a
 * tie), among pairs both sent or both unsent so that nothing is sent twice in part. */
static void ring_make_room(bw_state_t *s) {
    if (!s->peer_acks && s->send_from > 0) {
        ring_remove(s, 0);
        s->drops++;
        return;
    }
    int16_t best = -1;
    uint32_t best_w = 0;
    for (uint8_t i = 0; i + 1 < s->count; i++) {
        if ((i < s->send_from) != (i + 1 < s->send_from)) continue;
        uint32_t w = s->ring[i].window_ms + s->ring[i + 1].window_ms;
        if (w > WINDOW_MAX_MS) continue;
        if (best < 0 || w < best_w) {
            best = (int16_t)i;
            best_w = w;
        }
    }
    if (best < 0) { /* every window a day long: the oldest goes */
        ring_remove(s, 0);
        s->drops++;
        return;
    }
    bw_ring_merge(&s->ring[best], &s->ring[best + 1]);
    ring_remove(s, (uint8_t)(best + 1));
    s->merges++;
}

void bw_ring_push(bw_state_t *s, const bw_frame_t *f) {
    if (s->count >= BW_RING_CAP) ring_make_room(s);
    bw_frame_t *to = &s->ring[s->count];
    *to = *f;
    bw_frame_seal(to);
    s->count++;
    s->next_seq = f->seq + 1;
    s->keep_up = f->up_end;
    s->keep_up_hi = (uint32_t)(s->uptime >> 32);
    bw_keep_seal(s);
}

void bw_ack(bw_state_t *s, uint32_t seq) {
    /* everything up to seq is on the Pi's disk; a merged frame that only partly is stays */
    uint8_t k = 0;
    while (k < s->count && (int32_t)(seq - s->ring[k].seq) >= 0) k++;
    if (!k) return;
    memmove(&s->ring[0], &s->ring[k], (size_t)(s->count - k) * sizeof(bw_frame_t));
    s->count -= k;
    s->send_from = s->send_from > k ? (uint8_t)(s->send_from - k) : 0;
    bw_keep_seal(s);
}
