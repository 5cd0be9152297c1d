/* battwatch ADC board: CRC, the text of frames and hellos, numbers in commands (protocol.md). */
#include "bw_core.h"

#include <string.h>

#define NHZ_PER_HZ 1000000000ULL

uint16_t bw_crc16(const uint8_t *p, size_t n) { return bw_crc16_more(0xFFFF, p, n); }

uint16_t bw_crc16_more(uint16_t crc, const uint8_t *p, size_t n) {
    while (n--) {
        crc ^= (uint16_t)(*p++) << 8;
        for (uint8_t i = 0; i < 8; i++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* -- text output -------------------------------------------------------------------------- */
typedef struct {
    char *p;
    size_t cap, n;
    bool full;
} out_t;

static void put(out_t *o, char c) {
    if (o->n + 1 < o->cap)
        o->p[o->n++] = c;
    else
        o->full = true;
}

static void puts_(out_t *o, const char *s) {
    while (*s) put(o, *s++);
}

static void put_u32(out_t *o, uint32_t v) {
    /* by subtracting powers of ten: an 8-bit MCU has no divider, and two 32-bit divisions
     * a digit were most of fast mode's CPU time */
    static const uint32_t P[] = {1000000000UL, 100000000UL, 10000000UL, 1000000UL, 100000UL,
                                 10000UL, 1000UL, 100UL, 10UL};
    bool started = false;
    for (uint8_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        char d = '0';
        while (v >= P[i]) {
            v -= P[i];
            d++;
        }
        if (d != '0' || started) {
            put(o, d);
            started = true;
        }
    }
    put(o, (char)('0' + v));
}

static void put_u64(out_t *o, uint64_t v) {
    if (v <= 0xFFFFFFFFULL) {
        put_u32(o, (uint32_t)v); /* the common case, without 64-bit division */
        return;
    }
    /* base 10^9 limbs: two 64-bit divisions instead of twenty */
    uint32_t lo = (uint32_t)(v % 1000000000ULL);
    uint64_t hi = v / 1000000000ULL;
    put_u64(o, hi);
    char d[9];
    for (int8_t i = 8; i >= 0; i--) {
        d[i] = (char)('0' + lo % 10);
        lo /= 10;
    }
    for (uint8_t i = 0; i < 9; i++) put(o, d[i]);
}

static void put_i16(out_t *o, int16_t v) {
    if (v == BW_NONE) return; /* empty field */
    if (v < 0) {
        put(o, '-');
        put_u32(o, (uint32_t)(-(int32_t)v));
    } else {
        put_u32(o, (uint32_t)v);
    }
}

static const char HEX[] = "0123456789ABCDEF";

size_t bw_wrap(const char *body, char *out, size_t cap) {
    size_t n = strlen(body);
    if (n + 9 > cap) return 0;
    uint16_t crc = bw_crc16((const uint8_t *)body, n);
    out[0] = '$';
    memcpy(out + 1, body, n);
    char *t = out + 1 + n;
    *t++ = '*';
    *t++ = HEX[(crc >> 12) & 15];
    *t++ = HEX[(crc >> 8) & 15];
    *t++ = HEX[(crc >> 4) & 15];
    *t++ = HEX[crc & 15];
    *t++ = '\r';
    *t++ = '\n';
    *t = 0;
    return (size_t)(t - out);
}

/* Body in out + 1, then wrapped in place. */
static size_t finish(out_t *o) {
    if (o->full) return 0;
    o->p[o->n] = 0;
    size_t n = o->n - 1;
    uint16_t crc = bw_crc16((const uint8_t *)o->p + 1, n);
    put(o, '*');
    put(o, HEX[(crc >> 12) & 15]);
    put(o, HEX[(crc >> 8) & 15]);
    put(o, HEX[(crc >> 4) & 15]);
    put(o, HEX[crc & 15]);
    put(o, '\r');
    put(o, '\n');
    if (o->full) return 0;
    o->p[o->n] = 0;
    return o->n;
}

static uint64_t up64(const bw_state_t *s, uint32_t low) {
    /* frames are younger than 49 days (at most BW_RING_CAP windows of one day) */
    return s->uptime - (uint32_t)((uint32_t)s->uptime - low);
}

size_t bw_frame_line(const bw_state_t *s, const bw_frame_t *f, char *out, size_t cap) {
    out_t o = {out, cap, 0, false};
    puts_(&o, "$BWD,");
    put_u32(&o, f->seq);
    put(&o, ',');
    put_u64(&o, up64(s, f->up_end));
    put(&o, ',');
    put_u32(&o, f->window_ms);
    for (uint8_t i = 0; i < 6; i++) {
        put(&o, ',');
        put_i16(&o, f->mv[i]);
    }
    put(&o, ',');
    put_i16(&o, f->temp_dc);
    put(&o, ',');
    if (f->flags >= 16) put(&o, HEX[f->flags >> 4]);
    put(&o, HEX[f->flags & 15]);
    return finish(&o);
}

size_t bw_fmt_rate(uint32_t window_ms, char *out, size_t cap) {
    /* 1000 / window_ms in decimal, ten significant digits (truncated), no trailing zeros */
    out_t o = {out, cap, 0, false};
    uint32_t q = 1000 / window_ms, r = 1000 % window_ms;
    put_u32(&o, q);
    uint8_t sig = 0;
    if (q) {
        for (uint32_t t = q; t; t /= 10) sig++;
    }
    if (r) {
        put(&o, '.');
        while (r && sig < 10) {
            r *= 10;
            uint32_t d = r / window_ms;
            r %= window_ms;
            put(&o, (char)('0' + d));
            if (sig || d) sig++;
        }
        while (o.n && o.p[o.n - 1] == '0') o.n--;
    }
    if (o.full) return 0;
    o.p[o.n] = 0;
    return o.n;
}

size_t bw_hello_line(const bw_state_t *s, char *out, size_t cap) {
    out_t o = {out, cap, 0, false};
    char rate[16];
    bw_fmt_rate(s->base_win, rate, sizeof rate);
    puts_(&o, "$BWH,");
    put_u32(&o, BW_PROTO);
    put(&o, ',');
    puts_(&o, BW_FIRMWARE);
    put(&o, ',');
    puts_(&o, s->hw->board);
    put(&o, ',');
    put_u32(&o, s->hw->adc_bits);
    put(&o, ',');
    puts_(&o, rate);
    put(&o, ',');
    put_u64(&o, s->uptime);
    return finish(&o);
}

bool bw_parse_uint(const char *p, size_t n, uint64_t max, uint64_t *out) {
    if (n == 0 || n > 20) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') return false;
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (max - d) / 10) { /* beyond max: still syntax-valid, clamp to max + 1 */
            for (size_t j = i + 1; j < n; j++)
                if (p[j] < '0' || p[j] > '9') return false;
            *out = max == UINT64_MAX ? max : max + 1;
            return true;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool bw_parse_decimal_nhz(const char *p, size_t n, uint64_t *nhz) {
    /* "12", "0.5", ".5", "100.000": digits with one optional point, in nano-hertz */
    uint64_t ip = 0, frac = 0;
    uint8_t fd = 0;
    bool dot = false, any = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '.' && !dot) {
            dot = true;
            continue;
        }
        if (c < '0' || c > '9') return false;
        any = true;
        if (!dot) {
            if (ip > 1000000) return false; /* far beyond every range: a syntax-valid absurdity */
            ip = ip * 10 + (uint64_t)(c - '0');
        } else if (fd < 9) {
            frac = frac * 10 + (uint64_t)(c - '0');
            fd++;
        }
    }
    if (!any) return false;
    while (fd < 9) {
        frac *= 10;
        fd++;
    }
    *nhz = ip * NHZ_PER_HZ + frac;
    return true;
}
