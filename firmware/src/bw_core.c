/* battwatch ADC board: windows, the start detector, commands, the Pi's power, the main loop. */
#include "bw_core.h"

#include <stddef.h>
#include <string.h>

#include "bw_hal.h"

#define NHZ_PER_HZ 1000000000ULL
#define RATE_MIN_NHZ 10000000ULL     /* 0.01 Hz */
#define RATE_MAX_NHZ 100000000000ULL /* 100 Hz */
#define FAST_MAX_S 600
#define SLEEP_MAX_S 604800UL /* a week */
#define TRIG_MAX_MV 20000
#define TRIG_MAX_MS 1000

/* -- windows ------------------------------------------------------------------------------ */
static void acc_clear(bw_acc_t *a) {
    a->sum = 0;
    a->n = 0;
    a->lo = INT16_MAX;
    a->hi = INT16_MIN;
    a->sat = false;
}

static void acc_add(bw_acc_t *a, int16_t v, bool sat) {
    a->sum += v;
    a->n++;
    if (v < a->lo) a->lo = v;
    if (v > a->hi) a->hi = v;
    if (sat) a->sat = true;
}

void bw_sample_pair(bw_state_t *s, uint8_t ch, uint16_t plus, uint16_t minus) {
    /* either input at an end of its range: the difference is not the tap's */
    uint16_t top = s->hw->code_max;
    acc_add(&s->acc[s->cur][ch], (int16_t)((int16_t)plus - (int16_t)minus),
            plus == 0 || plus >= top || minus == 0 || minus >= top);
}

void bw_sample(bw_state_t *s, uint8_t ch, uint16_t code) {
    acc_add(&s->acc[s->cur][ch], (int16_t)code, code == 0 || code >= s->hw->code_max);
    if (ch != BW_MAIN) return;
    s->eng_sum += code;
    s->eng_n++;
    /* start detector on raw samples: a fall of trig_codes from the highest sample of the
     * last trig_ms (to a bucket) */
    if (code > s->trig_max[s->trig_idx]) s->trig_max[s->trig_idx] = code;
    if (code > s->trig_top) s->trig_top = code;
    if (s->trig_codes && !s->trig_fired && s->trig_top >= code + s->trig_codes) s->trig_fired = true;
}

void bw_tick(bw_state_t *s) {
    uint32_t now = ++s->now_ms;
    if (--s->trig_bucket_left == 0) {
        s->trig_bucket_left = s->trig_bucket_ms;
        s->trig_idx = (uint8_t)((s->trig_idx + 1) % BW_TRIG_BUCKETS);
        s->trig_max[s->trig_idx] = 0;
        /* the highest sample of the buckets still in the detector's span, once a bucket
         * rather than at every sample */
        uint16_t top = 0;
        for (uint8_t i = 0; i < BW_TRIG_BUCKETS; i++)
            if (s->trig_max[i] > top) top = s->trig_max[i];
        s->trig_top = top;
    }
    uint32_t el = now - s->win_start;
    if (el == 0 || s->closed) return; /* the main loop is behind: this window grows */
    if (!s->close_now && el < s->win_len) return;
    s->cur ^= 1;
    for (uint8_t i = 0; i < BW_NCH; i++) acc_clear(&s->acc[s->cur][i]);
    s->closed_end = now;
    s->closed_len = el;
    s->closed_fast = s->run_fast;
    s->run_fast = s->win_fast;
    s->win_start = now;
    s->close_now = false;
    s->closed = true;
}

static int16_t code_mv(const bw_scale_t *k, uint64_t sum2n, uint32_t n) {
    /* sum2n = 2 * sum + n: the middle of each code's step, rounded to the nearest mV */
    uint64_t v;
    if (n < 1000000UL && sum2n <= (0xFFFFFFFFUL - n * k->den) / k->num) {
        /* a window of a few seconds, or one sample: 32-bit arithmetic is ten times faster
         * on an 8-bit MCU than the 64-bit division */
        v = ((uint32_t)sum2n * k->num + n * k->den) / (2UL * n * k->den);
    } else {
        v = (sum2n * k->num + (uint64_t)n * k->den) / (2ULL * n * k->den);
    }
    return v > 32767 ? 32767 : (int16_t)v;
}

static int16_t diff_mv(const bw_scale_t *k, int32_t sum, uint32_t n) {
    /* the difference of two floored codes has no half-step bias: sum / n, rounded to the
     * nearest mV, by magnitude and sign */
    bool neg = sum < 0;
    uint32_t mag = neg ? (uint32_t)(-(int64_t)sum) : (uint32_t)sum;
    uint32_t d = n * k->den, v;
    if (n < 1000000UL && mag <= (0xFFFFFFFFUL - d) / k->num)
        v = (mag * k->num + d / 2) / d;
    else
        v = (uint32_t)(((uint64_t)mag * k->num + d / 2) / d);
    if (v > 32767) v = 32767;
    return neg ? (int16_t)-(int16_t)v : (int16_t)v;
}

void bw_frame_from_acc(bw_state_t *s, const bw_acc_t *acc, uint32_t end, uint32_t len,
                       uint8_t flags, bw_frame_t *f) {
    const bw_board_t *hw = s->hw;
    f->seq = s->next_seq; /* counted on when the ring takes it */
    f->up_end = end;
    f->window_ms = len;
    for (uint8_t ch = 0; ch < 2; ch++) {
        const bw_acc_t *a = &acc[ch];
        int16_t *mv = &f->mv[ch * 3];
        if (!a->n || (ch == BW_SOS && !hw->has_sos)) {
            mv[0] = mv[1] = mv[2] = BW_NONE;
            continue;
        }
        const bw_scale_t *k = &hw->scale[ch];
        if (ch == BW_SOS && hw->sos_diff) {
            mv[0] = diff_mv(k, a->sum, a->n);
            mv[1] = diff_mv(k, a->lo, 1);
            mv[2] = diff_mv(k, a->hi, 1);
        } else {
            mv[0] = code_mv(k, 2ULL * (uint32_t)a->sum + a->n, a->n);
            mv[1] = code_mv(k, 2ULL * (uint16_t)a->lo + 1, 1);
            mv[2] = code_mv(k, 2ULL * (uint16_t)a->hi + 1, 1);
        }
        if (a->sat) flags |= ch == BW_MAIN ? BW_F_MAIN_SAT : BW_F_SOS_SAT;
    }
    const bw_acc_t *t = &acc[BW_TEMP];
    f->temp_dc = BW_NONE;
    if (t->n && (uint32_t)t->sum >= (uint32_t)hw->temp_absent_code * t->n) {
        int32_t dc = (int32_t)code_mv(&hw->temp_scale, 2ULL * (uint32_t)t->sum + t->n, t->n) - hw->temp_offset_mv;
        if (dc >= -999 && dc <= 1999) f->temp_dc = (int16_t)dc;
    }
    f->flags = flags;
}
static void append(char *dst, size_t cap, const char *s) {
    size_t n = strlen(dst);
    while (*s && n + 1 < cap) dst[n++] = *s++;
    dst[n] = 0;
}

static void reply(const char *cmd, const char *status, const char *detail) {
    char body[48], line[64];
    body[0] = 0;
    append(body, sizeof body, "BWA,");
    append(body, sizeof body, cmd);
    append(body, sizeof body, ",");
    append(body, sizeof body, status);
    if (detail && *detail) {
        append(body, sizeof body, ",");
        append(body, sizeof body, detail);
    }
    size_t n = bw_wrap(body, line, sizeof line);
    if (n) bw_hal_tx_write(line, (uint8_t)n);
}

/* -- commands ----------------------------------------------------------------------------- */
static uint32_t window_of(uint64_t nhz) {
    uint64_t w = (1000ULL * NHZ_PER_HZ + nhz / 2) / nhz;
    return w ? (uint32_t)w : 1;
}

/* The OK detail: the rate delivered, when a whole-millisecond window is off by over 0.1 %. */
static const char *delivered(uint64_t nhz, uint32_t win, char *buf, size_t cap) {
    uint64_t asked = 1000ULL * NHZ_PER_HZ, got = (uint64_t)win * nhz;
    uint64_t diff = got > asked ? got - asked : asked - got;
    if (diff * 1000 <= asked) return "";
    bw_fmt_rate(win, buf, cap);
    return buf;
}

static void set_window(bw_state_t *s, uint32_t len, bool fast) {
    uint8_t k = bw_hal_lock();
    s->win_len = len;
    s->win_fast = fast;
    s->close_now = true;
    bw_hal_unlock(k);
}

static void trig_reset(bw_state_t *s) {
    uint8_t k = bw_hal_lock();
    memset(s->trig_max, 0, sizeof s->trig_max);
    s->trig_top = 0;
    s->trig_fired = false;
    bw_hal_unlock(k);
}

static void trig_set(bw_state_t *s, uint32_t mv, uint32_t ms) {
    s->trig_mv = mv;
    s->trig_ms = ms;
    const bw_scale_t *k = &s->hw->scale[BW_MAIN];
    uint32_t codes = mv && ms ? (uint32_t)(((uint64_t)mv * k->den + k->num - 1) / k->num) : 0;
    if (mv && ms && !codes) codes = 1;
    uint8_t key = bw_hal_lock();
    s->trig_codes = (uint16_t)(codes > 0xFFFF ? 0xFFFF : codes);
    s->trig_bucket_ms = (uint16_t)(ms ? (ms + BW_TRIG_BUCKETS - 1) / BW_TRIG_BUCKETS : 1);
    s->trig_bucket_left = s->trig_bucket_ms;
    bw_hal_unlock(key);
    trig_reset(s);
}

static void fast_start(bw_state_t *s, uint32_t seconds, uint32_t win) {
    s->fast = true;
    s->fast_win = win;
    s->fast_until = (uint32_t)s->uptime + seconds * 1000UL;
    set_window(s, win, true);
}

static void fast_end(bw_state_t *s) {
    s->fast = false;
    set_window(s, s->base_win, false);
    trig_reset(s); /* re-arm the start detector */
}

static void resend_all(bw_state_t *s) {
    for (uint8_t i = 0; i < s->send_from; i++) {
        s->ring[i].flags |= BW_F_BUFFERED;
        bw_frame_seal(&s->ring[i]);
    }
    s->send_from = 0;
}

#define MAX_ARGS 3

void bw_command(bw_state_t *s, const char *line, size_t n) {
    char tmp[24];
    if (n == 0) return;
    if (line[0] != '$' || n < 6 || line[n - 5] != '*') {
        reply("?", "ERR", "syntax");
        return;
    }
    uint16_t want = 0;
    for (size_t i = n - 4; i < n; i++) {
        char c = line[i];
        uint8_t d;
        if (c >= '0' && c <= '9') d = (uint8_t)(c - '0');
        else if (c >= 'A' && c <= 'F') d = (uint8_t)(c - 'A' + 10);
        else if (c >= 'a' && c <= 'f') d = (uint8_t)(c - 'a' + 10);
        else {
            reply("?", "ERR", "syntax");
            return;
        }
        want = (uint16_t)(want << 4 | d);
    }
    const char *body = line + 1;
    size_t blen = n - 6;
    if (bw_crc16((const uint8_t *)body, blen) != want) {
        reply("?", "ERR", "checksum");
        return;
    }
    if (blen < 5 || memcmp(body, "BWC,", 4) != 0) {
        reply("?", "ERR", "syntax");
        return;
    }
    /* fields after "BWC," */
    const char *f[1 + MAX_ARGS];
    size_t fl[1 + MAX_ARGS];
    uint8_t nf = 0;
    const char *p = body + 4, *end = body + blen;
    bool too_many = false;
    while (1) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if (nf < 1 + MAX_ARGS) {
            f[nf] = p;
            fl[nf] = (size_t)(e - p);
            nf++;
        } else {
            too_many = true;
        }
        if (!c) break;
        p = c + 1;
    }
    /* the command's name as echoed back: letters only, else "?" */
    char name[12];
    size_t nl = fl[0];
    bool ok_name = nl > 0 && nl < sizeof name;
    for (size_t i = 0; ok_name && i < nl; i++)
        if (!((f[0][i] >= 'A' && f[0][i] <= 'Z') || (f[0][i] >= 'a' && f[0][i] <= 'z'))) ok_name = false;
    if (!ok_name) {
        reply("?", "ERR", "syntax");
        return;
    }
    memcpy(name, f[0], nl);
    name[nl] = 0;
    uint8_t nargs = (uint8_t)(nf - 1);
#define IS(x) (strcmp(name, x) == 0)
#define NEED(k)                            \
    if (too_many || nargs != (k)) {        \
        reply(name, "ERR", "syntax");      \
        return;                            \
    }
    uint64_t a = 0, b = 0;
    if (IS("HELLO")) {
        NEED(0);
        char hl[80];
        size_t hn = bw_hello_line(s, hl, sizeof hl);
        if (hn) bw_hal_tx_write(hl, (uint8_t)hn);
        s->link_ready = true;
        if (s->peer_acks) resend_all(s);
    } else if (IS("RATE")) {
        NEED(1);
        if (!bw_parse_decimal_nhz(f[1], fl[1], &a)) {
            reply(name, "ERR", "syntax");
            return;
        }
        if (a < RATE_MIN_NHZ || a > RATE_MAX_NHZ) {
            reply(name, "ERR", "range");
            return;
        }
        s->base_win = window_of(a);
        if (!s->fast && s->base_win != s->win_len) set_window(s, s->base_win, false);
        reply(name, "OK", delivered(a, s->base_win, tmp, sizeof tmp));
    } else if (IS("FAST")) {
        NEED(2);
        if (!bw_parse_uint(f[1], fl[1], FAST_MAX_S, &a) || !bw_parse_decimal_nhz(f[2], fl[2], &b)) {
            reply(name, "ERR", "syntax");
            return;
        }
        if (a == 0 && b == 0) {
            if (s->fast) fast_end(s);
            reply(name, "OK", "");
            return;
        }
        if (a == 0 || a > FAST_MAX_S || b == 0 || b > RATE_MAX_NHZ) {
            reply(name, "ERR", "range");
            return;
        }
        uint32_t w = window_of(b);
        fast_start(s, (uint32_t)a, w);
        reply(name, "OK", delivered(b, w, tmp, sizeof tmp));
    } else if (IS("TRIG")) {
        NEED(2);
        if (!bw_parse_uint(f[1], fl[1], TRIG_MAX_MV, &a) || !bw_parse_uint(f[2], fl[2], TRIG_MAX_MS, &b)) {
            reply(name, "ERR", "syntax");
            return;
        }
        if (a > TRIG_MAX_MV || b > TRIG_MAX_MS) {
            reply(name, "ERR", "range");
            return;
        }
        trig_set(s, (uint32_t)a, (uint32_t)b);
        reply(name, "OK", a && b ? "" : "off");
    } else if (IS("TIME")) {
        NEED(1);
        if (!bw_parse_uint(f[1], fl[1], UINT64_MAX, &a)) {
            reply(name, "ERR", "syntax");
            return;
        }
        reply(name, "ERR", "unsupported"); /* no real-time clock on this board */
    } else if (IS("SLEEP")) {
        NEED(1);
        if (!bw_parse_uint(f[1], fl[1], SLEEP_MAX_S, &a)) {
            reply(name, "ERR", "syntax");
            return;
        }
        if (!s->hw->has_pi_switch) {
            reply(name, "ERR", "unsupported");
            return;
        }
        if (a == 0 || a > SLEEP_MAX_S) {
            reply(name, "ERR", "range");
            return;
        }
        s->sleep_ms = (uint32_t)a * 1000UL;
        if (s->pi == BW_PI_ON) {
            s->pi = BW_PI_GRACE;
            s->pi_since = (uint32_t)s->uptime;
        }
        reply(name, "OK", "");
    } else if (IS("ACK")) {
        if (too_many || nargs > 1) {
            reply(name, "ERR", "syntax");
            return;
        }
        if (nargs == 1) {
            if (!bw_parse_uint(f[1], fl[1], 0xFFFFFFFFULL, &a)) {
                reply(name, "ERR", "syntax");
                return;
            }
            /* only a frame this board has made since it booted can be acknowledged */
            if (a > 0xFFFFFFFFULL || s->next_seq == 0 || (int32_t)((uint32_t)a - (s->next_seq - 1)) > 0) {
                reply(name, "ERR", "range");
                return;
            }
            bw_ack(s, (uint32_t)a);
        }
        s->peer_acks = true;
        reply(name, "OK", "");
    } else {
        reply(name, "ERR", "unknown");
    }
#undef IS
#undef NEED
}

void bw_rx_byte(bw_state_t *s, uint8_t c) {
    if (c == '\n') {
        size_t n = s->rx_len;
        if (n && s->rx[n - 1] == '\r') n--;
        if (s->rx_overflow)
            reply("?", "ERR", "syntax"); /* longer than a line may be: discarded */
        else
            bw_command(s, s->rx, n);
        s->rx_len = 0;
        s->rx_overflow = false;
        return;
    }
    if (s->rx_len < BW_LINE_MAX - 2)
        s->rx[s->rx_len++] = (char)c;
    else
        s->rx_overflow = true;
}

/* -- main loop ---------------------------------------------------------------------------- */
/* Everything before the kept part: as at power-on. */
static void init_live(bw_state_t *s, const bw_board_t *hw) {
    memset(s, 0, offsetof(bw_state_t, keep_magic));
    s->hw = hw;
    for (uint8_t b = 0; b < 2; b++)
        for (uint8_t i = 0; i < BW_NCH; i++) acc_clear(&s->acc[b][i]);
    s->base_win = s->win_len = 1000;
    s->boot_pending = true;
    s->link_ready = true;
    s->pi = BW_PI_ON;
    s->hello_pending = true; /* protocol.md: a hello after boot */
    trig_set(s, 1000, 50);
    if (hw->has_pi_switch) bw_hal_pi_power(true);
}

void bw_init(bw_state_t *s, const bw_board_t *hw) {
    memset(&s->keep_magic, 0, sizeof *s - offsetof(bw_state_t, keep_magic));
    s->keep_magic = BW_KEEP_MAGIC;
    init_live(s, hw);
    bw_keep_seal(s);
}

bool bw_resume(bw_state_t *s, const bw_board_t *hw) {
    if (!bw_keep_sound(s)) {
        bw_init(s, hw);
        return false;
    }
    /* frames in order and sound; from the first that is not, the rest is dropped */
    uint8_t n = 0;
    while (n < s->count && bw_frame_sound(&s->ring[n]) &&
           (n == 0 || ((int32_t)(s->ring[n].seq - s->ring[n - 1].seq) > 0 &&
                       (int32_t)(s->ring[n].up_end - s->ring[n - 1].up_end) >= 0)))
        n++;
    /* the uptime goes on from where the interrupt left it, when that is believable */
    uint32_t now = s->now_ms, up = s->keep_up;
    uint32_t at = (uint32_t)(now - up) <= BW_RESUME_GAP_MS ? now : up;
    uint64_t uptime = (uint64_t)s->keep_up_hi << 32 | at;
    init_live(s, hw);
    s->now_ms = at;
    s->uptime = uptime;
    s->win_start = at;
    s->eng_last = at;
    s->pi_since = at;
    s->count = n;
    for (uint8_t i = 0; i < n; i++) { /* none of them has reached the Pi's disk */
        s->ring[i].flags |= BW_F_BUFFERED;
        bw_frame_seal(&s->ring[i]);
    }
    s->resumed = true;
    bw_keep_seal(s);
    return true;
}

static void power(bw_state_t *s, uint32_t now) {
    /* engine and ignition, on 100 ms averages */
    uint32_t dt = now - s->eng_last;
    if (dt >= 100) {
        s->eng_last = now;
        uint8_t k = bw_hal_lock();
        uint32_t sum = s->eng_sum;
        uint16_t n = s->eng_n;
        s->eng_sum = 0;
        s->eng_n = 0;
        bw_hal_unlock(k);
        bool high = n && code_mv(&s->hw->scale[BW_MAIN], 2ULL * sum + n, n) > BW_ENGINE_MV;
        s->eng_high_ms = high ? s->eng_high_ms + dt : 0;
        s->ign_high_ms = bw_hal_ignition() ? s->ign_high_ms + dt : 0;
    }
    if (!s->hw->has_pi_switch) return;
    bool car = s->eng_high_ms >= BW_ENGINE_MS || s->ign_high_ms >= BW_IGNITION_MS;
    switch (s->pi) {
    case BW_PI_ON:
        break;
    case BW_PI_GRACE:
        if (car) s->wake_pending = true; /* the Pi is halting already: cut, then power again */
        if (now - s->pi_since >= BW_GRACE_MS) {
            s->pi = BW_PI_OFF;
            s->pi_since = now;
            s->link_ready = false;
            bw_hal_pi_power(false);
        }
        break;
    case BW_PI_OFF:
        if ((car || s->wake_pending || now - s->pi_since >= s->sleep_ms) && now - s->pi_since >= BW_OFF_MIN_MS) {
            s->pi = BW_PI_ON;
            s->pi_since = now;
            s->wake_pending = false;
            bw_hal_pi_power(true);
        }
        break;
    }
}

bool bw_poll(bw_state_t *s) {
    bool did = false;
    uint8_t k = bw_hal_lock();
    uint32_t now = s->now_ms;
    bw_hal_unlock(k);
    s->uptime += (uint32_t)(now - (uint32_t)s->uptime);

    if (s->hello_pending && bw_hal_tx_free() >= BW_FRAME_MAX) {
        char hl[80];
        size_t hn = bw_hello_line(s, hl, sizeof hl);
        if (hn) bw_hal_tx_write(hl, (uint8_t)hn);
        s->hello_pending = false;
        did = true;
    }
    if (s->closed) {
        /* the window may have closed after the clock was read above: the uptime catches up
         * with its end, or the frame's 64-bit uptime would come out 2^32 ms behind */
        uint32_t ahead = s->closed_end - (uint32_t)s->uptime;
        if ((int32_t)ahead > 0) {
            s->uptime += ahead;
            now = s->closed_end; /* and the frame is not taken for late below */
        }
        uint8_t flags = s->closed_fast ? BW_F_FAST : 0;
        if (s->boot_pending) flags |= BW_F_BOOT;
        if (s->pi == BW_PI_OFF) flags |= BW_F_BUFFERED; /* nobody to send it to: kept */
        s->boot_pending = false;
        bw_frame_t f;
        bw_frame_from_acc(s, s->acc[s->cur ^ 1], s->closed_end, s->closed_len, flags, &f);
        s->closed = false; /* the ISR may now reuse that half */
        bw_ring_push(s, &f);
        did = true;
    }
    if (s->fast && (int32_t)(now - s->fast_until) >= 0) fast_end(s);
    if (s->trig_fired && !s->fast && s->trig_codes) fast_start(s, BW_TRIG_FAST_S, BW_TRIG_FAST_WIN_MS);
    power(s, now);

    if (s->link_ready && s->pi != BW_PI_OFF && s->send_from < s->count && bw_hal_tx_free() >= BW_FRAME_MAX) {
        bw_frame_t *f = &s->ring[s->send_from];
        if ((uint32_t)(now - f->up_end) > BW_LATE_MS && !(f->flags & BW_F_BUFFERED)) {
            f->flags |= BW_F_BUFFERED;
            bw_frame_seal(f);
        }
        char line[BW_FRAME_MAX];
        size_t n = bw_frame_line(s, f, line, sizeof line);
        if (n) {
            bw_hal_tx_write(line, (uint8_t)n);
            s->send_from++;
            did = true;
        }
    }
    return did;
}
