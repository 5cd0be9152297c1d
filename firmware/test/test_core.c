/* Host unit tests of the portable core: protocol.md's CRC and frame examples byte for byte,
 * commands and their answers, windows, the start detector, the frame ring, the Pi's power. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_core.h"
#include "bw_hal.h"

/* -- a fake hardware layer --------------------------------------------------------------- */
static char tx[1 << 20];
static size_t tx_len;
static int pi_on = -1;
static bool ignition;
static uint16_t tx_room = 4096;

uint16_t bw_hal_tx_free(void) { return tx_room; }
void bw_hal_tx_write(const char *p, uint8_t n) {
    if (tx_len + n < sizeof tx) {
        memcpy(tx + tx_len, p, n);
        tx_len += n;
        tx[tx_len] = 0;
    }
}
void bw_hal_pi_power(bool on) { pi_on = on; }
bool bw_hal_ignition(void) { return ignition; }
uint8_t bw_hal_lock(void) { return 0; }
/* the timer interrupt that lands as soon as the main loop lets go of the lock: armed by a test */
static int ticks_at_unlock;
static bw_state_t st;
void bw_hal_unlock(uint8_t saved) {
    (void)saved;
    while (ticks_at_unlock > 0) {
        ticks_at_unlock--;
        bw_tick(&st);
    }
}

static int failures, checks;
#define CHECK(cond, ...)                                              \
    do {                                                              \
        checks++;                                                     \
        if (!(cond)) {                                                \
            failures++;                                               \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);               \
            printf(__VA_ARGS__);                                      \
            printf("\n");                                             \
        }                                                             \
    } while (0)
#define CHECK_STR(got, want) CHECK(strcmp((got), (want)) == 0, "got %s want %s", (got), (want))

/* the Nano board of hal_avr.c */
static const bw_board_t NANO = {
    .board = "bw-nano-r1",
    .adc_bits = 10,
    .code_max = 1023,
    .scale = {{1004, 51}, {884, 121}},
    .temp_scale = {4, 1},
    .temp_offset_mv = 500,
    .temp_absent_code = 10,
    .has_sos = true,
    .has_pi_switch = true,
};

static void reset(void) {
    tx_len = 0;
    tx[0] = 0;
    tx_room = 4096;
    ignition = false;
    bw_init(&st, &NANO);
}

static void send(const char *line) {
    for (const char *p = line; *p; p++) bw_rx_byte(&st, (uint8_t)*p);
}

static void cmd(const char *body) {
    char line[160];
    bw_wrap(body, line, sizeof line);
    send(line);
}

static void poll_all(void) {
    while (bw_poll(&st)) {
    }
}

/* ms milliseconds of samples as hal_avr.c takes them: main twice, sos twice (temp in between) */
static void run(uint32_t ms, uint16_t main, uint16_t sos, uint16_t temp) {
    for (uint32_t i = 0; i < ms; i++) {
        bw_sample(&st, BW_MAIN, main);
        bw_sample(&st, BW_SOS, sos);
        bw_sample(&st, BW_MAIN, main);
        bw_sample(&st, (st.now_ms & 3) == 3 ? BW_TEMP : BW_SOS, (st.now_ms & 3) == 3 ? temp : sos);
        bw_tick(&st);
        poll_all();
    }
}

static int count_lines(const char *prefix) {
    int n = 0;
    for (const char *p = tx; (p = strstr(p, prefix)); p++) n++;
    return n;
}

/* field i (0-based, after the type) of the k-th (0-based) line starting with prefix */
static long field(const char *prefix, int k, int i) {
    const char *p = tx;
    for (int j = 0; j <= k; j++) {
        p = strstr(p, prefix);
        if (!p) return -999999;
        if (j < k) p++;
    }
    for (int j = 0; j <= i; j++) {
        p = strchr(p, ',');
        if (!p) return -999999;
        p++;
    }
    if (*p == ',' || *p == '*') return -888888; /* empty */
    return strtol(p, NULL, i == 10 ? 16 : 10);
}

/* -- protocol.md examples ---------------------------------------------------------------- */
static void test_crc_and_examples(void) {
    CHECK(bw_crc16((const uint8_t *)"123456789", 9) == 0x29B1, "check value");
    static const char *const ex[] = {
        "$BWD,41,41250,1000,12640,12631,12652,5210,5208,5213,85,0*C641\r\n",
        "$BWH,1,1.0.0,bw-adc-r1,16,1,5210*0645\r\n",
        "$BWA,RATE,OK*E8E9\r\n",
        "$BWA,FAST,OK,10*214B\r\n",
        "$BWA,?,ERR,checksum*F6F6\r\n",
        "$BWA,?,ERR,syntax*DE89\r\n",
        "$BWA,RATE,ERR,range*2F99\r\n",
        "$BWA,RESET,ERR,unknown*0886\r\n",
        "$BWA,TIME,ERR,unsupported*6456\r\n",
        "$BWC,RATE,1*9E9E\r\n",
        "$BWC,RATE,0.0166667*994C\r\n",
        "$BWC,FAST,30,100*7CD0\r\n",
        "$BWC,TIME,1735689600000*56FC\r\n",
        "$BWC,ACK*F87F\r\n",
        "$BWC,ACK,41*4E10\r\n",
        "$BWA,ACK,OK*CAC8\r\n",
        "$BWA,TRIG,OK,off*0B85\r\n",
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        char body[128], out[160];
        const char *star = strrchr(ex[i], '*');
        size_t n = (size_t)(star - ex[i] - 1);
        memcpy(body, ex[i] + 1, n);
        body[n] = 0;
        bw_wrap(body, out, sizeof out);
        CHECK_STR(out, ex[i]);
    }
}

static void test_frame_and_hello_lines(void) {
    static const bw_board_t ADS = {.board = "bw-adc-r1", .adc_bits = 16, .code_max = 65535,
                                   .scale = {{1, 1}, {1, 1}}, .temp_scale = {1, 1}};
    reset();
    bw_state_t *s = &st;
    bw_init(s, &ADS);
    s->uptime = 41250;
    bw_frame_t f = {.seq = 41, .up_end = 41250, .window_ms = 1000,
                    .mv = {12640, 12631, 12652, 5210, 5208, 5213}, .temp_dc = 85, .flags = 0};
    char line[BW_FRAME_MAX];
    bw_frame_line(s, &f, line, sizeof line);
    CHECK_STR(line, "$BWD,41,41250,1000,12640,12631,12652,5210,5208,5213,85,0*C641\r\n");
    s->uptime = 5210;
    bw_hello_line(s, line, sizeof line);
    CHECK_STR(line, "$BWH,1,1.0.0,bw-adc-r1,16,1,5210*0645\r\n");
    /* empty fields, hex flags and a 64-bit uptime */
    s->uptime = 5000000000ULL;
    bw_frame_t g = {.seq = 7, .up_end = (uint32_t)5000000000ULL, .window_ms = 10,
                    .mv = {-5, BW_NONE, 3, BW_NONE, BW_NONE, BW_NONE}, .temp_dc = BW_NONE, .flags = 0x1B};
    bw_frame_line(s, &g, line, sizeof line);
    CHECK(strncmp(line, "$BWD,7,5000000000,10,-5,,3,,,,,1B*", 34) == 0, "got %s", line);
    char r[24];
    bw_fmt_rate(60000, r, sizeof r);
    CHECK_STR(r, "0.01666666666");
    bw_fmt_rate(33, r, sizeof r);
    CHECK_STR(r, "30.3030303");
    bw_fmt_rate(1000, r, sizeof r);
    CHECK_STR(r, "1");
    bw_fmt_rate(5000, r, sizeof r);
    CHECK_STR(r, "0.2");
}

static void test_hello_after_boot(void) {
    reset();
    poll_all();
    CHECK(strncmp(tx, "$BWH,1,1.0.0,bw-nano-r1,10,1,0*", 31) == 0, "hello after boot: %s", tx);
}

static void expect_reply(const char *line, const char *want) {
    tx_len = 0;
    tx[0] = 0;
    send(line);
    char w[80];
    if (want[0] != '$') { /* a body: the line is wrapped here */
        bw_wrap(want, w, sizeof w);
        want = w;
    }
    CHECK_STR(tx, want);
}

static void test_commands(void) {
    reset();
    expect_reply("$BWC,RATE,1*9E9E\r\n", "$BWA,RATE,OK*E8E9\r\n");
    expect_reply("$BWC,RATE,1*9E9F\r\n", "$BWA,?,ERR,checksum*F6F6\r\n");
    expect_reply("hello\r\n", "$BWA,?,ERR,syntax*DE89\r\n");
    expect_reply("$BWC,RATE,1\n", "$BWA,?,ERR,syntax*DE89\r\n");
    char line[200];
    bw_wrap("BWC,RATE,1000", line, sizeof line);
    expect_reply(line, "$BWA,RATE,ERR,range*2F99\r\n");
    bw_wrap("BWC,RATE,0.001", line, sizeof line);
    expect_reply(line, "$BWA,RATE,ERR,range*2F99\r\n");
    bw_wrap("BWC,RESET", line, sizeof line);
    expect_reply(line, "$BWA,RESET,ERR,unknown*0886\r\n");
    bw_wrap("BWC,TIME,1735689600000", line, sizeof line);
    expect_reply(line, "$BWA,TIME,ERR,unsupported*6456\r\n");
    /* a line longer than 120 bytes is discarded up to its newline */
    memset(line, 'A', 150);
    strcpy(line + 150, "\r\n");
    expect_reply(line, "$BWA,?,ERR,syntax*DE89\r\n");
    /* syntax: arguments missing, extra, not decimal */
    const char *bad[] = {"BWC,RATE", "BWC,RATE,1,2", "BWC,RATE,+1", "BWC,RATE,1e2", "BWC,FAST,30",
                         "BWC,TRIG,-1,50", "BWC,FAST,1.5,10", "BWC,ACK,x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bw_wrap(bad[i], line, sizeof line);
        tx_len = 0;
        send(line);
        CHECK(strstr(tx, ",ERR,syntax*") != NULL, "%s answered %s", bad[i], tx);
    }
    bw_wrap("BWC,FAST,30,100", line, sizeof line);
    expect_reply(line, "BWA,FAST,OK");
    CHECK(st.fast && st.win_len == 10, "fast at 100 Hz");
    bw_wrap("BWC,FAST,30,30", line, sizeof line);
    tx_len = 0;
    send(line);
    CHECK(strstr(tx, "$BWA,FAST,OK,30.3030303*") == tx, "delivered rate: %s", tx);
    bw_wrap("BWC,FAST,601,10", line, sizeof line);
    expect_reply(line, "BWA,FAST,ERR,range");
    bw_wrap("BWC,FAST,0,0", line, sizeof line);
    expect_reply(line, "BWA,FAST,OK");
    CHECK(!st.fast && st.win_len == 1000, "fast ended");
    expect_reply("$BWC,RATE,0.0166667*994C\r\n", "$BWA,RATE,OK*E8E9\r\n");
    CHECK(st.base_win == 60000, "a frame a minute: %lu", (unsigned long)st.base_win);
    bw_wrap("BWC,TRIG,0,50", line, sizeof line);
    expect_reply(line, "$BWA,TRIG,OK,off*0B85\r\n");
    CHECK(st.trig_codes == 0, "TRIG 0 disables");
    expect_reply("$BWC,ACK*F87F\r\n", "$BWA,ACK,OK*CAC8\r\n");
    CHECK(st.peer_acks, "acknowledging Pi");
    bw_wrap("BWC,SLEEP,0", line, sizeof line);
    tx_len = 0;
    send(line);
    CHECK(strstr(tx, "$BWA,SLEEP,ERR,range*") == tx, "SLEEP 0: %s", tx);
    bw_wrap("BWC,ACK,5", line, sizeof line);
    tx_len = 0;
    send(line);
    CHECK(strstr(tx, "$BWA,ACK,ERR,range*") == tx, "ack of a frame never made: %s", tx);
}

/* -- windows, the start detector -------------------------------------------------------- */
static void test_windows(void) {
    reset();
    cmd("BWC,RATE,1");
    tx_len = 0;
    /* 12.6 V: code 640 (12.6 / 19.686 = 640.06); 5.2 V: 711; 20 degC: 700 mV, code 175 */
    run(1000, 640, 711, 175);
    run(200, 640, 711, 175);
    run(50, 498, 711, 175); /* 9.8 V for 50 ms */
    run(750, 640, 711, 175);
    CHECK(count_lines("$BWD,") >= 2, "frames: %s", tx);
    if (getenv("BW_DEBUG")) printf("%s", tx);
    CHECK(field("$BWD,", 0, 0) == 0 && field("$BWD,", 0, 2) == 1000, "first window");
    CHECK(field("$BWD,", 0, 3) == 12609, "12.6 V average: %ld", field("$BWD,", 0, 3));
    CHECK(field("$BWD,", 0, 6) == 5198, "sos: %ld", field("$BWD,", 0, 6));
    CHECK(field("$BWD,", 0, 9) == 202, "temperature 0.1 degC: %ld", field("$BWD,", 0, 9));
    CHECK(field("$BWD,", 0, 10) == 0x08, "first after boot: %lx", field("$BWD,", 0, 10));
    /* the dip fired the start detector: the window ended, fast frames of 10 ms followed */
    CHECK(field("$BWD,", 1, 4) == 9814 || field("$BWD,", 2, 4) == 9814, "dip minimum");
    long fl = field("$BWD,", 3, 10), w = field("$BWD,", 3, 2);
    CHECK(fl == 0x01 && w == 10, "fast frame: flags %lx window %ld", fl, w);
    /* a window minimum: 10 ms of 9.8 V inside a 1 s window, with the detector off */
    reset();
    cmd("BWC,TRIG,0,0");
    tx_len = 0;
    run(500, 640, 711, 0);
    run(10, 498, 711, 0);
    run(490, 640, 711, 0);
    CHECK(field("$BWD,", 0, 4) == 9814 && field("$BWD,", 0, 5) == 12609, "min/max %ld %ld",
          field("$BWD,", 0, 4), field("$BWD,", 0, 5));
    CHECK(field("$BWD,", 0, 9) == -888888, "no sensor: empty temperature");
    /* a 100 s window (the 64-bit path of the conversion) gives the same millivolts */
    cmd("BWC,RATE,0.01");
    tx_len = 0;
    run(100010, 640, 711, 0);
    CHECK(field("$BWD,", 1, 2) == 100000 && field("$BWD,", 1, 3) == 12609 && field("$BWD,", 1, 6) == 5198,
          "100 s window: %ld %ld %ld", field("$BWD,", 1, 2), field("$BWD,", 1, 3), field("$BWD,", 1, 6));
    cmd("BWC,RATE,1");
    run(1000, 640, 711, 0);
    /* saturation */
    tx_len = 0;
    run(1000, 1023, 0, 0);
    CHECK(field("$BWD,", 0, 10) == 0x06, "saturated: %lx", field("$BWD,", 0, 10));
}

/* a window that closes between the main loop's reading of the clock and its look at the
 * closed flag ends after the uptime the loop holds: its frame's uptime is still the right one */
static void test_window_closed_behind_the_loop(void) {
    reset();
    cmd("BWC,FAST,10,100");
    run(20, 640, 711, 175);
    while (st.win_start + st.win_len != st.now_ms + 1) run(1, 640, 711, 175);
    tx_len = 0;
    tx[0] = 0;
    ticks_at_unlock = 1;
    poll_all();
    CHECK(ticks_at_unlock == 0 && count_lines("$BWD,") == 1, "one frame: %s", tx);
    long up = field("$BWD,", 0, 1);
    CHECK(up == (long)st.now_ms, "uptime %ld, the window ended at %lu", up, (unsigned long)st.now_ms);
    CHECK(field("$BWD,", 0, 10) == 0x01, "a fast frame, not buffered: %lx", field("$BWD,", 0, 10));
}

/* -- the ring ------------------------------------------------------------------------------ */
static void test_ring(void) {
    reset();
    cmd("BWC,RATE,100");
    cmd("BWC,TRIG,0,0");
    tx_room = 0; /* nothing can be sent: every frame stays unsent */
    run(1000, 640, 711, 0);
    run(5, 498, 711, 0);
    run(995, 640, 711, 0);
    CHECK(st.count == BW_RING_CAP, "ring full: %u", st.count);
    CHECK(st.merges > 100, "merged: %lu", (unsigned long)st.merges);
    uint32_t total = 0;
    int16_t lo = 32767;
    for (uint8_t i = 0; i < st.count; i++) {
        total += st.ring[i].window_ms;
        if (st.ring[i].mv[1] < lo) lo = st.ring[i].mv[1];
        if (i) CHECK(st.ring[i].seq > st.ring[i - 1].seq, "in order");
    }
    /* every window since boot is covered once, and the dip survives merging */
    CHECK(total == st.ring[st.count - 1].up_end, "covered %lu of %lu", (unsigned long)total,
          (unsigned long)st.ring[st.count - 1].up_end);
    CHECK(lo == 9814, "dip kept: %d", lo);
    /* the Pi comes: a hello, then every kept frame oldest first; then an ACK empties it */
    tx_room = 4096;
    tx_len = 0;
    cmd("BWC,ACK");
    cmd("BWC,HELLO");
    poll_all();
    CHECK(count_lines("$BWD,") == BW_RING_CAP, "all sent: %d", count_lines("$BWD,"));
    CHECK(strstr(tx, "$BWH,") < strstr(tx, "$BWD,"), "hello first");
    long last = (long)st.ring[st.count - 4].seq;
    char body[40];
    snprintf(body, sizeof body, "BWC,ACK,%ld", last);
    cmd(body);
    CHECK(st.count == 3 && st.send_from == 3, "acked all but 3: %u %u", st.count, st.send_from);
    /* a reconnect resends what is still unacknowledged, flagged buffered */
    tx_len = 0;
    cmd("BWC,HELLO");
    poll_all();
    CHECK(count_lines("$BWD,") == 3, "resent 3: %s", tx);
    CHECK(field("$BWD,", 0, 0) == (long)st.ring[0].seq && (field("$BWD,", 0, 10) & 0x10), "resent oldest first, buffered");
    /* an old daemon never acknowledges: what it was sent is not kept, nothing is merged */
    reset();
    cmd("BWC,RATE,100");
    uint32_t merges = st.merges;
    run(2000, 640, 711, 0);
    CHECK(st.merges == merges && st.drops > 100, "old daemon: dropped sent frames, no merges");
    tx_len = 0;
    cmd("BWC,HELLO");
    poll_all();
    CHECK(count_lines("$BWD,") == 0, "nothing resent to an old daemon");
}

/* -- the Pi's power ------------------------------------------------------------------------- */
static void test_power(void) {
    reset();
    cmd("BWC,ACK");
    cmd("BWC,RATE,1");
    CHECK(pi_on == 1, "Pi on at boot");
    run(3000, 640, 711, 0);
    tx_len = 0;
    cmd("BWC,SLEEP,60");
    CHECK(strstr(tx, "$BWA,SLEEP,OK*") == tx, "SLEEP: %s", tx);
    run(19990, 640, 711, 0);
    CHECK(pi_on == 1, "grace: still on");
    run(20, 640, 711, 0);
    CHECK(pi_on == 0 && st.pi == BW_PI_OFF, "cut after 20 s");
    tx_len = 0;
    run(30000, 640, 711, 0);
    CHECK(tx_len == 0, "nothing sent while the Pi is off");
    run(30000, 640, 711, 0);
    CHECK(pi_on == 1, "visit after 60 s");
    uint32_t on_at = st.now_ms;
    run(5000, 640, 711, 0);
    CHECK(tx_len == 0, "nothing before the Pi's hello");
    cmd("BWC,HELLO");
    poll_all();
    int n = count_lines("$BWD,");
    CHECK(n == BW_RING_CAP, "backlog sent: %d", n);
    for (int k = 0; k < n; k++)
        if (field("$BWD,", k, 1) <= (long)on_at) CHECK(field("$BWD,", k, 10) & 0x10, "frame %d buffered", k);
    /* the engine runs (13.8 V) while the Pi is off: it is powered after 5 s */
    cmd("BWC,SLEEP,3600");
    run(20000, 640, 711, 0);
    CHECK(pi_on == 0, "off");
    run(4000, 701, 711, 0);
    CHECK(pi_on == 0, "4 s of charging voltage: still off");
    run(1200, 701, 711, 0);
    CHECK(pi_on == 1, "engine running: Pi on");
    /* a board without a switch says so */
    static bw_board_t plain;
    plain = NANO;
    plain.has_pi_switch = false;
    bw_init(&st, &plain);
    tx_len = 0;
    cmd("BWC,SLEEP,60");
    CHECK(strstr(tx, "$BWA,SLEEP,ERR,unsupported*") == tx, "no switch: %s", tx);
}

/* -- the differential SOS tap ---------------------------------------------------------------- */
static void run_pairs(uint32_t ms, uint16_t main, uint16_t plus, uint16_t minus) {
    for (uint32_t i = 0; i < ms; i++) {
        bw_sample(&st, BW_MAIN, main);
        bw_sample_pair(&st, BW_SOS, plus, minus);
        bw_sample(&st, BW_MAIN, main);
        bw_tick(&st);
        poll_all();
    }
}

static void test_differential_sos(void) {
    static bw_board_t diff;
    diff = NANO;
    diff.sos_diff = true;
    tx_len = 0;
    tx[0] = 0;
    tx_room = 4096;
    bw_init(&st, &diff);
    cmd("BWC,TRIG,0,0");
    tx_len = 0;
    /* the pack's minus 0.4 V above ground: both inputs carry it, the difference does not;
     * 711 codes apart is 711 * 884 / 121 = 5194.4 mV, no half step (two floors cancel) */
    run_pairs(1000, 640, 890, 179);
    CHECK(field("$BWD,", 0, 6) == 5194 && field("$BWD,", 0, 7) == 5194 && field("$BWD,", 0, 8) == 5194,
          "differential: %ld %ld %ld", field("$BWD,", 0, 6), field("$BWD,", 0, 7), field("$BWD,", 0, 8));
    CHECK(!(field("$BWD,", 0, 10) & BW_F_SOS_SAT), "not saturated: %lx", field("$BWD,", 0, 10));
    /* codes alternating one apart average to the half code: 711.5 * 884 / 121 = 5198.1 */
    tx_len = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        bw_sample_pair(&st, BW_SOS, 890, 179);
        bw_sample_pair(&st, BW_SOS, 891, 179);
        bw_sample(&st, BW_MAIN, 640);
        bw_tick(&st);
        poll_all();
    }
    CHECK(field("$BWD,", 0, 6) == 5198 && field("$BWD,", 0, 7) == 5194 && field("$BWD,", 0, 8) == 5202,
          "half code: %ld %ld %ld", field("$BWD,", 0, 6), field("$BWD,", 0, 7), field("$BWD,", 0, 8));
    /* a minus above the plus (a reversed pack): negative millivolts */
    tx_len = 0;
    run_pairs(1000, 640, 100, 150);
    CHECK(field("$BWD,", 0, 6) == -365, "reversed: %ld", field("$BWD,", 0, 6));
    /* the minus input at code 0 (its leg below its range): saturated, whatever the plus says */
    tx_len = 0;
    run_pairs(1000, 640, 700, 0);
    CHECK(field("$BWD,", 0, 10) & BW_F_SOS_SAT, "minus at 0: %lx", field("$BWD,", 0, 10));
}

/* -- frames kept across a reset ---------------------------------------------------------------- */
static void test_resume(void) {
    reset();
    cmd("BWC,ACK");
    cmd("BWC,RATE,5");
    cmd("BWC,TRIG,0,0");
    run(3000, 640, 711, 0); /* 15 frames sent, kept until acknowledged */
    cmd("BWC,ACK,4");
    CHECK(st.count == 10 && st.next_seq == 15, "kept %u, next %lu", st.count, (unsigned long)st.next_seq);
    bw_frame_t first = st.ring[0];
    /* a reset: RAM stays, the live part is whatever it was (here: scribbled over), the
     * interrupt's uptime 150 ms past the last window */
    st.now_ms = 3150;
    memset(&st, 0xA5, offsetof(bw_state_t, now_ms));
    memset((char *)&st + offsetof(bw_state_t, acc), 0x5A, offsetof(bw_state_t, keep_magic) - offsetof(bw_state_t, acc));
    tx_len = 0;
    CHECK(bw_resume(&st, &NANO), "resumed");
    CHECK(st.count == 10 && st.next_seq == 15 && st.now_ms == 3150, "kept %u next %lu now %lu", st.count,
          (unsigned long)st.next_seq, (unsigned long)st.now_ms);
    CHECK(st.ring[0].seq == first.seq && st.ring[0].up_end == first.up_end, "oldest kept as it was");
    cmd("BWC,ACK");
    cmd("BWC,HELLO");
    run(1000, 640, 711, 0); /* the rate is the boot default until the daemon sets it again */
    CHECK(count_lines("$BWD,") == 11, "10 kept and 1 new: %s", tx);
    CHECK(field("$BWD,", 0, 0) == 5 && (field("$BWD,", 0, 10) & 0x10), "oldest first, buffered");
    CHECK(field("$BWD,", 10, 0) == 15 && field("$BWD,", 10, 1) == 4150 && field("$BWD,", 10, 10) == 0x08,
          "the next frame goes on: seq %ld up %ld flags %lx", field("$BWD,", 10, 0), field("$BWD,", 10, 1),
          field("$BWD,", 10, 10));
    /* a frame damaged in RAM: it and everything after it is dropped */
    st.ring[6].mv[0] ^= 0x40;
    CHECK(bw_resume(&st, &NANO) && st.count == 6, "kept up to the damage: %u", st.count);
    /* an uptime in RAM that cannot be right: it goes on from the newest window's end */
    st.now_ms = 0xDEADBEEF;
    CHECK(bw_resume(&st, &NANO) && st.now_ms == st.keep_up, "uptime from the last window: %lu",
          (unsigned long)st.now_ms);
    /* a damaged header (or RAM after a power-on): nothing is kept */
    st.count ^= 1;
    CHECK(!bw_resume(&st, &NANO) && st.count == 0 && st.next_seq == 0 && st.now_ms == 0, "cold");
}

int main(void) {
    test_crc_and_examples();
    test_frame_and_hello_lines();
    test_hello_after_boot();
    test_commands();
    test_windows();
    test_window_closed_behind_the_loop();
    test_ring();
    test_power();
    test_differential_sos();
    test_resume();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
