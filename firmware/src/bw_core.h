/* battwatch ADC board: the portable core (framing, CRC, windows, commands, frame buffer, power
 * states). Plain C99 without any MCU header: the same file runs on the ATmega328P and in the
 * host unit tests. The hardware layer (bw_hal.h) feeds it samples and milliseconds. */
#ifndef BW_CORE_H
#define BW_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_PROTO 1
#define BW_FIRMWARE "1.0.0"
#define BW_LINE_MAX 120 /* bytes of a line including its terminator (protocol.md) */
#define BW_NONE INT16_MIN /* a value not measured: an empty field */
#define BW_FRAME_MAX 112 /* the longest BWD line, with room to spare */

/* frame flags (protocol.md) */
#define BW_F_FAST 0x01
#define BW_F_MAIN_SAT 0x02
#define BW_F_SOS_SAT 0x04
#define BW_F_BOOT 0x08
#define BW_F_BUFFERED 0x10

#ifndef BW_RING_CAP
#define BW_RING_CAP 32 /* frames kept until acknowledged; the AVR build sets it from its RAM */
#endif

enum { BW_MAIN = 0, BW_SOS = 1, BW_TEMP = 2, BW_NCH = 3 };

uint16_t bw_crc16(const uint8_t *p, size_t n);
uint16_t bw_crc16_more(uint16_t crc, const uint8_t *p, size_t n); /* continues a CRC */

/* Sample statistics of one channel over a window, in ADC codes (a differential channel's
 * samples are differences of two codes, so they may be negative). */
typedef struct {
    int32_t sum;
    uint32_t n;
    int16_t lo, hi;
    bool sat;
} bw_acc_t;

/* What a window's samples became: one frame, kept in RAM until the Pi acknowledges it. */
typedef struct {
    uint32_t seq;       /* the (newest) window's sequence number */
    uint32_t up_end;    /* uptime at the window's end, ms, low 32 bits */
    uint32_t window_ms; /* summed when windows are merged */
    int16_t mv[6];      /* main avg, min, max, sos avg, min, max; BW_NONE when not measured */
    int16_t temp_dc;    /* 0.1 degC or BW_NONE */
    uint16_t check;     /* CRC of the fields above and flags: the frame survived a reset */
    uint8_t flags;
} bw_frame_t;

/* How codes become millivolts at the tap: mv = (2 * code + 1) * num / (2 * den), i.e. the
 * middle of the code's step through the nominal divider. */
typedef struct {
    uint32_t num, den;
} bw_scale_t;

typedef struct {
    const char *board;     /* BWH board name, no commas */
    uint8_t adc_bits;      /* 10 on the ATmega328P */
    uint16_t code_max;     /* top code (saturation) */
    bw_scale_t scale[2];   /* main, sos */
    bw_scale_t temp_scale; /* code to mV at the sensor pin */
    int16_t temp_offset_mv; /* sensor output at 0 degC; 10 mV per degC is 1 mV per 0.1 degC */
    uint16_t temp_absent_code; /* a temperature average below this: no sensor fitted */
    bool has_sos;
    bool sos_diff; /* the SOS tap is the difference of two inputs (bw_sample_pair) */
    bool has_pi_switch;
} bw_board_t;

typedef enum { BW_PI_ON = 0, BW_PI_GRACE, BW_PI_OFF } bw_pi_state_t;

#define BW_GRACE_MS 20000UL     /* SLEEP: the Pi halts within this, then its supply is cut */
#define BW_OFF_MIN_MS 2000UL    /* supply off at least this long, so the 5 V rail collapses */
#define BW_ENGINE_MV 13200      /* main above this ... */
#define BW_ENGINE_MS 5000UL     /* ... this long: the engine runs, power the Pi */
#define BW_IGNITION_MS 1000UL   /* ignition input high this long: power the Pi */
#define BW_TRIG_FAST_S 30       /* the start detector's fast mode: 30 s ... */
#define BW_TRIG_FAST_WIN_MS 10  /* ... at 100 Hz */
#define BW_LATE_MS 2000UL       /* a frame sent later than this after its window is flagged buffered */
#define BW_TRIG_BUCKETS 32
#define BW_KEEP_MAGIC 0x4B504257UL /* "BWPK": the kept part of the state is initialised */
#define BW_RESUME_GAP_MS 200000UL  /* after a reset, RAM's uptime is believed this far past the last frame */

/* The whole state of the board. The sample side (bw_sample, bw_tick) runs in the hardware
 * layer's interrupt; everything else in its main loop. */
typedef struct {
    const bw_board_t *hw;
    /* -- interrupt side ------------------------------------------------------------- */
    volatile uint32_t now_ms;      /* uptime, low 32 bits (the main loop extends it) */
    bw_acc_t acc[2][BW_NCH];        /* double buffer: the ISR fills acc[cur] */
    volatile uint8_t cur;
    volatile bool closed;           /* acc[!cur] holds a finished window */
    volatile uint32_t closed_end;   /* its end, ms */
    volatile uint32_t closed_len;
    volatile bool close_now;        /* the main loop asks for the window to end at once */
    volatile bool win_fast;         /* windows started from now on are fast-mode windows */
    bool run_fast;                  /* the running window is one */
    volatile bool closed_fast;      /* the closed window was one */
    volatile uint32_t win_start;
    volatile uint32_t win_len;      /* current window length in ms */
    /* start detector: maxima of the 12 V codes in buckets of trig_bucket_ms */
    uint16_t trig_max[BW_TRIG_BUCKETS];
    uint16_t trig_top;              /* the highest of them */
    uint8_t trig_idx;
    uint16_t trig_bucket_ms, trig_bucket_left;
    volatile uint16_t trig_codes;   /* fall in codes that fires it; 0: off */
    volatile bool trig_fired;
    /* engine and ignition detector: 100 ms averages of the 12 V channel */
    volatile uint32_t eng_sum;
    volatile uint16_t eng_n;
    /* -- main-loop side ------------------------------------------------------------- */
    uint64_t uptime;                /* 64-bit uptime, extended from now_ms */
    bool boot_pending;
    uint32_t base_win;              /* RATE */
    uint32_t fast_win;              /* FAST */
    uint32_t fast_until;            /* ms; fast mode while fast && now < fast_until */
    bool fast;
    bool fast_window;               /* the running window was started in fast mode */
    uint32_t trig_mv, trig_ms;
    bool peer_acks;                 /* the Pi has sent ACK since boot: keep until acknowledged */
    bool link_ready;                /* frames may be transmitted */
    bool hello_pending;             /* the hello after boot is still to be sent */
    uint8_t send_from;              /* index (0..count) of the first entry still to send */
    uint32_t merges, drops;         /* statistics */
    /* power of the Pi */
    bw_pi_state_t pi;
    uint32_t pi_since;              /* ms the state was entered */
    uint32_t sleep_ms;              /* SLEEP: how long the Pi stays off */
    bool wake_pending;
    uint32_t eng_high_ms, ign_high_ms, eng_last;
    /* command line being received */
    char rx[BW_LINE_MAX + 1];
    uint8_t rx_len;
    bool rx_overflow;
    bool resumed;                   /* the frames below were kept across a reset */
    /* -- kept across a reset (the AVR build puts the state in .noinit RAM): everything from
     * keep_magic on survives when keep_check and each frame's check hold --------------- */
    uint32_t keep_magic;
    uint16_t keep_check;            /* CRC of next_seq, keep_up, keep_up_hi and count */
    uint32_t next_seq;
    uint32_t keep_up;               /* the newest frame's window end (uptime, low 32 bits) */
    uint32_t keep_up_hi;            /* the uptime's high 32 bits then */
    uint8_t count;
    bw_frame_t ring[BW_RING_CAP];
} bw_state_t;

void bw_init(bw_state_t *s, const bw_board_t *hw);
/* After a reset that kept RAM (reset pin, watchdog): keep the frames not yet acknowledged
 * when their checks hold, with the uptime going on; otherwise bw_init. True when kept. */
bool bw_resume(bw_state_t *s, const bw_board_t *hw);

/* interrupt side */
void bw_sample(bw_state_t *s, uint8_t ch, uint16_t code);
void bw_sample_pair(bw_state_t *s, uint8_t ch, uint16_t plus, uint16_t minus); /* differential */
void bw_tick(bw_state_t *s); /* once per millisecond, after that millisecond's samples */

/* main loop: take a closed window, run timers, send what is due. Returns true when it did
 * something (the caller sleeps when it did nothing). */
bool bw_poll(bw_state_t *s);
void bw_rx_byte(bw_state_t *s, uint8_t c);

/* -- pieces, exposed for the unit tests -------------------------------------------------- */
size_t bw_frame_line(const bw_state_t *s, const bw_frame_t *f, char *out, size_t cap);
size_t bw_hello_line(const bw_state_t *s, char *out, size_t cap);
size_t bw_wrap(const char *body, char *out, size_t cap); /* "$body*CRC\r\n" */
void bw_command(bw_state_t *s, const char *line, size_t n);
bool bw_parse_uint(const char *p, size_t n, uint64_t max, uint64_t *out);
bool bw_parse_decimal_nhz(const char *p, size_t n, uint64_t *nhz); /* Hz, 9 decimals */
size_t bw_fmt_rate(uint32_t window_ms, char *out, size_t cap);
void bw_frame_from_acc(bw_state_t *s, const bw_acc_t *acc, uint32_t end, uint32_t len,
                       uint8_t flags, bw_frame_t *f);
void bw_ring_push(bw_state_t *s, const bw_frame_t *f);
void bw_ring_merge(bw_frame_t *older, const bw_frame_t *newer);
void bw_ack(bw_state_t *s, uint32_t seq);
bw_frame_t *bw_ring_at(bw_state_t *s, uint8_t i);
void bw_frame_seal(bw_frame_t *f);
bool bw_frame_sound(const bw_frame_t *f);
void bw_keep_seal(bw_state_t *s);
bool bw_keep_sound(const bw_state_t *s);

#endif
