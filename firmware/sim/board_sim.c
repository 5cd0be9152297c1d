/* board-sim: the firmware's real ELF on simavr's ATmega328P at 16 MHz, in step with the wall
 * clock, its UART on a pseudo-terminal, its analogue inputs driven from a CSV file.
 *
 *   board-sim ELF --link PATH --volts FILE.csv [--pi-power PATH] [--trace PATH|-] [--reset-on-open]
 *
 * FILE.csv: t_ms,main_v,sos_v,temp_c[,sos_minus_v] (volts at the taps, before the dividers;
 * degC, empty for no sensor; the SOS pack's minus against the board's ground, 0 when absent),
 * linear between rows, the last row held. The analogue front end (dividers, the SOS legs'
 * 0.512 V bias, 4.096 V reference, TMP36-class sensor) is the one hal_avr.c assumes. SIGUSR1
 * reads the file again, its t_ms now counted from that moment: a test changes the voltages
 * when it is ready. --reset-on-open plays a stock Nano, whose USB bridge resets it each time
 * the port is opened (RAM kept, as on the chip). The trace (a file, or - for standard output)
 * has a line per line sent ("x" when nobody could read it), received ("<"), Pi supply change,
 * CPU clock change, reset and volts file, each with the simulated time.
 *
 * The pty is owned here and served on the simulator's own thread (simavr's uart_pty part
 * uses a fixed link name, keeps the slave open and feeds input from another thread): a reader
 * that goes away is seen, and whatever the board sends then is lost, as on a real link. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <avr_adc.h>
#include <avr_ioport.h>
#include <avr_uart.h>
#include <sim_avr.h>
#include <sim_elf.h>
#include <sim_irq.h>

#define FREQ 16000000UL
#define VREF_MV 4096
/* dividers of hal_avr.c: pin volts = tap volts * R2 / (R1 + R2) */
#define MAIN_K (255.0 / 1255.0)
#define SOS_K (1210.0 / 2210.0)
#define SOS_BIAS_V 0.512 /* the bottom of both SOS legs */
#define CLKPR_ADDR 0x61
#define MCUSR_ADDR 0x54

typedef struct {
    double t, main, sos, temp, sos_minus;
    int has_temp;
} row_t;

static row_t *rows;
static size_t nrows;
static double rows_origin; /* simulated ms at which the volts file's t_ms is 0 */
static volatile sig_atomic_t reload;
static const char *volts_path;
static avr_t *avr;
static int master = -1;
static FILE *trace;
static const char *pi_path;
static int pi_on, pi_seen; /* the Pi supply pin, and whether the firmware has driven it yet */
static int resetting;       /* the pins float during a reset: the enable's pull-up keeps the Pi on */
static volatile sig_atomic_t stopping;
static int xoff;
static char out_line[512];
static size_t out_len;
static char in_line[512];
static size_t in_len;
static unsigned char pend[1 << 16];
static size_t pend_len;

static void die(const char *fmt, const char *a, long b) {
    fprintf(stderr, "board-sim: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    exit(2);
}

/* The CPU clock changes (CLKPR): simulated time is summed over the stretches of each. */
static uint32_t freq = FREQ;
static double base_ms;
static avr_cycle_count_t base_cycle;
static uint8_t clkpce;

static double sim_ms(void) { return base_ms + (double)(avr->cycle - base_cycle) * 1000.0 / freq; }

/* The firmware's duty cycle, by Pi supply and clock: cycles spent executing in the current
 * stretch (a run that executes SLEEP also passes the time asleep, so it counts one cycle),
 * summed into milliseconds whenever either changes. Index: pi_on * 2 + (clock divided). */
static avr_cycle_count_t seg_awake, seg_start;
static double seg_ms[4], seg_up_ms[4];
static int seg_pi;

static void seg_flush(void) {
    int i = seg_pi * 2 + (freq != FREQ);
    seg_ms[i] += (double)(avr->cycle - seg_start) * 1000.0 / freq;
    seg_up_ms[i] += (double)seg_awake * 1000.0 / freq;
    seg_start = avr->cycle;
    seg_awake = 0;
}

/* -- the volts file ---------------------------------------------------------------------- */
static int parse_num(const char *s, double *v) {
    char *e;
    if (!*s) return 0;
    *v = strtod(s, &e);
    return *e == 0 && isfinite(*v);
}

static void load_volts(const char *path) {
    free(rows);
    rows = NULL;
    nrows = 0;
    FILE *f = fopen(path, "r");
    if (!f) die("cannot open %s (errno %ld)", path, errno);
    char line[256];
    long ln = 0;
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (ln == 1 && strncmp(line, "t_ms", 4) == 0) continue;
        char *fld[5] = {0};
        int n = 0;
        char *p = line;
        while (n < 5) {
            fld[n++] = p;
            char *c = strchr(p, ',');
            if (!c) break;
            *c = 0;
            p = c + 1;
        }
        if (n < 3) die("%s:%ld: expected t_ms,main_v,sos_v,temp_c", path, ln);
        row_t r = {0};
        if (!parse_num(fld[0], &r.t) || !parse_num(fld[1], &r.main) || !parse_num(fld[2], &r.sos))
            die("%s:%ld: t_ms, main_v and sos_v must be numbers", path, ln);
        r.has_temp = n >= 4 && fld[3][0];
        if (r.has_temp && !parse_num(fld[3], &r.temp)) die("%s:%ld: temp_c must be a number or empty", path, ln);
        if (n == 5 && !parse_num(fld[4], &r.sos_minus)) die("%s:%ld: sos_minus_v must be a number", path, ln);
        if (nrows && r.t <= rows[nrows - 1].t) die("%s:%ld: t_ms must increase", path, ln);
        if (nrows == cap) {
            cap = cap ? cap * 2 : 64;
            rows = realloc(rows, cap * sizeof *rows);
        }
        rows[nrows++] = r;
    }
    fclose(f);
    if (!nrows) die("%s: no rows%.0ld", path, 0);
}

static size_t row_i; /* time only moves forward: resume the search where it was */

static row_t volts_at(double t) {
    size_t i = row_i;
    t -= rows_origin;
    if (t <= rows[0].t || nrows == 1) return rows[0];
    while (i + 1 < nrows && rows[i + 1].t <= t) i++;
    row_i = i;
    if (i + 1 >= nrows) return rows[nrows - 1];
    const row_t *a = &rows[i], *b = &rows[i + 1];
    double u = (t - a->t) / (b->t - a->t);
    row_t r = {t, a->main + u * (b->main - a->main), a->sos + u * (b->sos - a->sos), 0,
               a->sos_minus + u * (b->sos_minus - a->sos_minus), a->has_temp};
    if (a->has_temp && b->has_temp) r.temp = a->temp + u * (b->temp - a->temp);
    else r.temp = a->temp;
    return r;
}

/* A real 10-bit SAR gives floor(V * 1024 / Vref); simavr computes floor(mV * 1023 / Vref) from
 * whole millivolts, so hand it the millivolts that give the real converter's code. */
static uint32_t adc_mv(double pin_v) {
    double c = floor(pin_v * 1024.0 * 1000.0 / VREF_MV);
    if (c < 0) c = 0;
    if (c > 1023) c = 1023;
    return (uint32_t)ceil(c * VREF_MV / 1023.0);
}

static void adc_trigger(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)value;
    (void)param;
    row_t r = volts_at(sim_ms());
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0), adc_mv(r.main * MAIN_K));
    /* each SOS leg: V * k + bias * (1 - k), V the leg's tap against the board's ground */
    double plus = r.sos_minus + r.sos, minus = r.sos_minus;
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC1),
                  adc_mv(plus * SOS_K + SOS_BIAS_V * (1 - SOS_K)));
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC3),
                  adc_mv(minus * SOS_K + SOS_BIAS_V * (1 - SOS_K)));
    avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC2),
                  r.has_temp ? adc_mv(0.5 + 0.01 * r.temp) : 0);
}

/* -- the link ------------------------------------------------------------------------------ */
static int reader_present(void) {
    struct pollfd p = {master, POLLIN, 0};
    if (poll(&p, 1, 0) < 0) return 0;
    return !(p.revents & POLLHUP);
}

static void trace_line(char dir, const char *s, size_t n) {
    if (!trace) return;
    fprintf(trace, "%.3f %c %.*s\n", sim_ms() / 1000.0, dir, (int)n, s);
    fflush(trace);
}

static void uart_out(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    char c = (char)value;
    int deliver = pi_on && reader_present();
    if (deliver && pend_len < sizeof pend) pend[pend_len++] = (unsigned char)c;
    if (c == '\n') {
        size_t n = out_len;
        if (n && out_line[n - 1] == '\r') n--;
        trace_line(deliver ? '>' : 'x', out_line, n);
        out_len = 0;
    } else if (out_len < sizeof out_line) {
        out_line[out_len++] = c;
    }
}

static void uart_xon(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)value, (void)param;
    xoff = 0;
}

static void uart_xoff(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq, (void)value, (void)param;
    xoff = 1;
}

static void write_pi(void) {
    if (!pi_path) return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", pi_path);
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    fprintf(f, "%d %.3f\n", pi_on, sim_ms() / 1000.0);
    fclose(f);
    rename(tmp, pi_path);
}

static void pi_pin(struct avr_irq_t *irq, uint32_t value, void *param) {
    (void)irq;
    (void)param;
    int on = value != 0;
    if (resetting) return;
    pi_seen |= on;
    if (on == pi_on) return;
    seg_flush();
    pi_on = on;
    seg_pi = on;
    write_pi(); /* the file first: whoever reads the trace line finds the file up to date */
    if (trace) {
        fprintf(trace, "%.3f pi %d\n", sim_ms() / 1000.0, on);
        fflush(trace);
    }
}

/* CLKPR: a write with CLKPCE set, then the divider (the 4-cycle window is not modelled) */
static void clkpr_write(struct avr_t *a, avr_io_addr_t addr, uint8_t v, void *param) {
    (void)param;
    a->data[addr] = v;
    if (v & 0x80) {
        clkpce = 1;
        return;
    }
    if (!clkpce) return;
    clkpce = 0;
    uint32_t f = FREQ >> (v & 0x0F);
    if (f == freq) return;
    seg_flush();
    base_ms = sim_ms();
    base_cycle = a->cycle;
    freq = f;
    a->frequency = f; /* simavr's own timers in microseconds follow it */
    if (trace) {
        fprintf(trace, "%.3f clock %lu\n", base_ms / 1000.0, (unsigned long)f);
        fflush(trace);
    }
}

/* simavr's own sleep waits out the sleep in real time; this loop keeps to the wall clock itself */
static void sleep_none(avr_t *a, avr_cycle_count_t how_long) {
    (void)a;
    (void)how_long;
}

static unsigned char inbuf[4096];
static size_t in_n, in_pos;
static int reset_on_open, was_present;
static double boot_until; /* simulated ms: a Nano's bootloader has the UART until then */
#define BOOTLOADER_MS 1000.0 /* optiboot waits about a second for an upload after a reset */

/* The USB bridge's DTR pulse on a stock Nano: a reset of the chip, its SRAM kept. */
static void reset_board(void) {
    static uint8_t ram[2048];
    memcpy(ram, avr->data + 0x100, sizeof ram);
    resetting = 1;
    avr_reset(avr);
    resetting = 0;
    memcpy(avr->data + 0x100, ram, sizeof ram);
    avr->data[MCUSR_ADDR] = 0x02; /* EXTRF: a reset from the pin */
    if (freq != FREQ) {
        seg_flush();
        base_ms = sim_ms();
        base_cycle = avr->cycle;
        freq = avr->frequency = FREQ; /* CLKPR comes out of reset at the fuses' divider, 1 */
    }
    clkpce = 0;
    boot_until = sim_ms() + BOOTLOADER_MS;
    in_len = 0;
    if (trace) {
        fprintf(trace, "%.3f reset\n", sim_ms() / 1000.0);
        fflush(trace);
    }
}

static void serve_link(void) {
    if (pend_len) {
        ssize_t w = write(master, pend, pend_len);
        if (w > 0) {
            memmove(pend, pend + w, pend_len - (size_t)w);
            pend_len -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN) {
            pend_len = 0; /* the reader left */
        }
    }
    if (in_pos == in_n) {
        in_pos = in_n = 0;
        ssize_t r = read(master, inbuf, sizeof inbuf);
        if (r > 0) in_n = (size_t)r;
    }
    avr_irq_t *in = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    /* held until the firmware has its receiver on (UCSR0B's RXEN0) and has powered the Pi: a
     * client that opens the link at once is a Pi that was already up */
    int rx_on = (avr->data[0xC1] & (1 << 4)) != 0 && pi_seen;
    while (rx_on && in_pos < in_n && !xoff) {
        unsigned char c = inbuf[in_pos++];
        if (!pi_on) continue; /* the bridge has no power: nothing reaches the board */
        int eaten = sim_ms() < boot_until; /* the bootloader's: never reaches the firmware */
        if (c == '\n') {
            size_t n = in_len;
            if (n && in_line[n - 1] == '\r') n--;
            trace_line(eaten ? 'b' : '<', in_line, n);
            in_len = 0;
        } else if (in_len < sizeof in_line) {
            in_line[in_len++] = (char)c;
        }
        if (!eaten) avr_raise_irq(in, c);
    }
}

static void on_signal(int sig) {
    if (sig == SIGUSR1)
        reload = 1;
    else
        stopping = 1;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void usage(void) {
    fprintf(stderr, "usage: board-sim ELF --link PATH --volts FILE.csv [--pi-power PATH] [--trace PATH] [--reset-on-open]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *elf = NULL, *link = NULL, *volts = NULL, *trace_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--link") && i + 1 < argc) link = argv[++i];
        else if (!strcmp(argv[i], "--volts") && i + 1 < argc) volts = argv[++i];
        else if (!strcmp(argv[i], "--pi-power") && i + 1 < argc) pi_path = argv[++i];
        else if (!strcmp(argv[i], "--trace") && i + 1 < argc) trace_path = argv[++i];
        else if (!strcmp(argv[i], "--reset-on-open")) reset_on_open = 1;
        else if (argv[i][0] != '-' && !elf) elf = argv[i];
        else usage();
    }
    if (!elf || !link || !volts) usage();
    load_volts(volts);
    volts_path = volts;
    if (trace_path && !strcmp(trace_path, "-")) {
        trace = stdout;
        setvbuf(stdout, NULL, _IOLBF, 0);
    } else if (trace_path && !(trace = fopen(trace_path, "w"))) {
        die("cannot write %s (errno %ld)", trace_path, errno);
    }

    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(elf, &fw)) die("cannot read the firmware %s%.0ld", elf, 0);
    avr = avr_make_mcu_by_name("atmega328p");
    if (!avr) die("simavr has no atmega328p%s%.0ld", "", 0);
    avr_init(avr);
    avr_load_firmware(avr, &fw);
    avr->frequency = FREQ;
    avr->aref = VREF_MV;
    avr->avcc = avr->vcc = 5000;
    avr->log = 1; /* warnings only */
    avr->sleep = sleep_none;

    uint32_t flags = 0;
    avr_ioctl(avr, AVR_IOCTL_UART_GET_FLAGS('0'), &flags);
    flags &= ~(uint32_t)(AVR_UART_FLAG_POLL_SLEEP | AVR_UART_FLAG_STDIO);
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &flags);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON), uart_xon, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF), uart_xoff, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER), adc_trigger, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), IOPORT_IRQ_PIN4), pi_pin, NULL);
    avr_register_io_write(avr, CLKPR_ADDR, clkpr_write, NULL);
    write_pi();

    master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (master < 0 || grantpt(master) || unlockpt(master)) die("no pseudo-terminal%s (errno %ld)", "", errno);
    const char *slave = ptsname(master);
    int sfd = open(slave, O_RDWR | O_NOCTTY);
    if (sfd >= 0) { /* raw from the start: no echo of the board's output back to it */
        struct termios t;
        tcgetattr(sfd, &t);
        cfmakeraw(&t);
        cfsetspeed(&t, B115200);
        tcsetattr(sfd, TCSANOW, &t);
        close(sfd);
    }
    /* the link appears only once that close has been through the pty (a hang-up on the master):
     * a reader opening it during that would lose what it writes first */
    for (int i = 0; i < 100 && reader_present(); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    unlink(link);
    if (symlink(slave, link)) die("cannot create the link %s (errno %ld)", link, errno);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGUSR1, on_signal);
    signal(SIGPIPE, SIG_IGN);
    fprintf(stderr, "board-sim: %s on %s (%s), volts from %s\n", elf, link, slave, volts);

    /* simulated time never runs ahead of the wall clock; when the machine is too slow it lags
     * and runs flat out */
    double t0 = wall();
    int state = cpu_Running;
    while (!stopping) {
        if (reload) {
            reload = 0;
            load_volts(volts_path);
            row_i = 0;
            rows_origin = sim_ms();
            if (trace) {
                fprintf(trace, "%.3f volts %s\n", rows_origin / 1000.0, volts_path);
                fflush(trace);
            }
        }
        if (reset_on_open) {
            int present = reader_present();
            if (present && !was_present) reset_board();
            was_present = present;
        }
        double ahead = sim_ms() - (wall() - t0) * 1000.0;
        if (ahead >= 0) {
            struct pollfd p = {master, POLLIN, 0};
            int ms = (int)ahead;
            poll(&p, 1, ms > 0 ? ms : 0);
            serve_link();
            if (ms <= 0) {
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        avr_cycle_count_t until = avr->cycle + freq / 1000; /* serve the link every simulated ms */
        while (avr->cycle < until) {
            avr_cycle_count_t c0 = avr->cycle;
            int was = avr->state;
            state = avr_run(avr);
            if (was == cpu_Running) seg_awake += state == cpu_Running ? avr->cycle - c0 : 1;
            if (state == cpu_Done || state == cpu_Crashed) {
                fprintf(stderr, "board-sim: the firmware stopped (%s) at %.3f s\n",
                        state == cpu_Done ? "done" : "crashed", sim_ms() / 1000.0);
                unlink(link);
                return 1;
            }
        }
        serve_link();
    }
    unlink(link);
    seg_flush();
    double all = 0, up = 0;
    for (int i = 0; i < 4; i++) all += seg_ms[i], up += seg_up_ms[i];
    if (all > 0) {
        fprintf(stderr, "board-sim: %.3f s simulated, CPU awake %.2f %% of it", all / 1000.0, 100.0 * up / all);
        static const char *what[4] = {"Pi off at 16 MHz", "Pi off at 1 MHz", "Pi on at 16 MHz", "Pi on at 1 MHz"};
        for (int i = 0; i < 4; i++)
            if (seg_ms[i] > 0)
                fprintf(stderr, "; %s %.2f %% of %.3f s", what[i], 100.0 * seg_up_ms[i] / seg_ms[i], seg_ms[i] / 1000.0);
        fprintf(stderr, "\n");
    }
    return 0;
}
