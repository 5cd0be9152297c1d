/* The ATmega328P hardware layer (Arduino Nano/Uno at 16 MHz): ADC sampling on Timer1, UART,
 * the Pi's supply switch, idle sleep, the parked clock, watchdog. The only file to replace for
 * another MCU. */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/power.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "bw_core.h"
#include "bw_hal.h"

/* Analogue front end (firmware/README.md): an external 4.096 V reference on AREF; 12 V tap
 * 1 MOhm / 255 kOhm (20.16 V full scale); the SOS tap differential (wiring.md: the pack's minus
 * is not ground), SOS+ on ADC1 and SOS- on ADC3, each through 1 MOhm / 1.21 MOhm with the
 * bottom of both legs on a 0.512 V bias, so the difference of the two codes is the pack's
 * voltage over the same 7.3 mV a code and a minus down to -0.42 V stays in range; TMP36-class
 * sensor on ADC2 (500 mV at 0 degC, 10 mV per degC) with a 1 MOhm pull-down when absent.
 * mV at the tap per code: 4096 / 1024 * (R1 + R2) / R2. */
static const bw_board_t BOARD = {
    .board = "bw-nano-r1",
    .adc_bits = 10,
    .code_max = 1023,
    .scale = {{1004, 51}, {884, 121}}, /* 4 * 1255 / 255 and 4 * 2210 / 1210 */
    .temp_scale = {4, 1},
    .temp_offset_mv = 500,
    .temp_absent_code = 10,
    .has_sos = true,
    .sos_diff = true,
    .has_pi_switch = true,
};

#define PI_POWER_BIT PD4 /* high: the Pi's 5 V converter is enabled */
#define IGNITION_BIT PD2 /* high: terminal 15 on (through a divider or opto-coupler) */
#define SLOT_HZ 4000       /* ADC conversions per second, over the channels */
#define PARKED_SLOT_HZ 500 /* the same, parked: 2 ms a conversion */
#define PARKED_DIV 16      /* parked, the CPU runs at 1 MHz */

/* in RAM that start-up leaves alone: a reset by the USB bridge's DTR or the watchdog keeps
 * the frames not yet acknowledged (bw_resume checks them) */
static bw_state_t st __attribute__((section(".noinit")));

/* -- UART, 115200 8N1 ----------------------------------------------------------------------- */
#define RX_SIZE 64
#define TX_SIZE 128
static volatile uint8_t rx_buf[RX_SIZE], rx_head, rx_tail;
static volatile uint8_t tx_buf[TX_SIZE], tx_head, tx_tail;

ISR(USART_RX_vect) {
    uint8_t status = UCSR0A;
    uint8_t c = UDR0;
    if (status & ((1 << FE0) | (1 << DOR0))) c = '#'; /* a broken byte: the line fails its CRC */
    uint8_t next = (uint8_t)((rx_head + 1) % RX_SIZE);
    if (next != rx_tail) {
        rx_buf[rx_head] = c;
        rx_head = next;
    }
}

ISR(USART_UDRE_vect) {
    if (tx_head == tx_tail) {
        UCSR0B &= (uint8_t)~(1 << UDRIE0);
        return;
    }
    UDR0 = tx_buf[tx_tail];
    tx_tail = (uint8_t)((tx_tail + 1) % TX_SIZE);
}

uint16_t bw_hal_tx_free(void) {
    uint8_t h = tx_head, t = tx_tail;
    return (uint16_t)((t + TX_SIZE - h - 1) % TX_SIZE);
}

void bw_hal_tx_write(const char *p, uint8_t n) {
    while (n--) {
        uint8_t next = (uint8_t)((tx_head + 1) % TX_SIZE);
        while (next == tx_tail) {
        } /* callers check the room first; this only waits out a race */
        tx_buf[tx_head] = (uint8_t)*p++;
        tx_head = next;
    }
    UCSR0B |= (1 << UDRIE0);
}

static void uart_init(void) {
    UCSR0A = (1 << U2X0);
    UBRR0 = 16; /* 115200 at 16 MHz with U2X (2.1 % fast, as every Arduino) */
    UCSR0C = (1 << UCSZ01) | (1 << UCSZ00);
    UCSR0B = (1 << RXEN0) | (1 << TXEN0) | (1 << RXCIE0);
}

/* -- pins ------------------------------------------------------------------------------------ */
void bw_hal_pi_power(bool on) {
    if (on)
        PORTD |= (1 << PI_POWER_BIT);
    else
        PORTD &= (uint8_t)~(1 << PI_POWER_BIT);
}

bool bw_hal_ignition(void) { return (PIND & (1 << IGNITION_BIT)) != 0; }

uint8_t bw_hal_lock(void) {
    uint8_t sreg = SREG;
    cli();
    return sreg;
}

void bw_hal_unlock(uint8_t saved) { SREG = saved; }

/* -- sampling -------------------------------------------------------------------------------- */
/* Conversions in slots of 16: main, sos+, main, sos-, ... with slot 14 (a main one) on the
 * temperature sensor. At 4000 slots a second: main 1.75 kHz, the SOS pair 1 kHz, temperature
 * 250 Hz; parked, at 500: main 219 Hz (a 50 ms crank dip is still 10 samples), SOS 125 Hz. */
enum { K_MAIN = 0, K_SOSP = 1, K_TEMP = 2, K_SOSM = 3 }; /* = the ADC input of each */
static uint8_t slot, slot_kind, started;
static uint16_t sos_plus;
static volatile uint8_t parked; /* the Pi is off and no fast mode: low clock, few samples */

static uint8_t kind_of(uint8_t n) {
    if ((n & 15) == 14) return K_TEMP;
    return (n & 1) ? ((n & 2) ? K_SOSM : K_SOSP) : K_MAIN;
}

ISR(TIMER1_COMPA_vect) {
    uint16_t code = ADC; /* the conversion started one slot ago */
    if (started) {
        switch (slot_kind) {
        case K_MAIN: bw_sample(&st, BW_MAIN, code); break;
        case K_SOSP: sos_plus = code; break;
        case K_SOSM: bw_sample_pair(&st, BW_SOS, sos_plus, code); break;
        default: bw_sample(&st, BW_TEMP, code); break;
        }
    }
    started = 1;
    slot++;
    slot_kind = kind_of(slot);
    ADMUX = slot_kind; /* REFS1:0 = 00: the external reference on AREF, never AVCC */
    ADCSRA |= (1 << ADSC);
    if (parked) {
        bw_tick(&st); /* 2 ms a slot */
        bw_tick(&st);
    } else if ((slot & 3) == 0) {
        bw_tick(&st);
    }
}

#define ADPS_128 ((1 << ADPS2) | (1 << ADPS1) | (1 << ADPS0)) /* 16 MHz / 128: 125 kHz */
#define ADPS_8 ((1 << ADPS1) | (1 << ADPS0))                  /* 1 MHz / 8: 125 kHz */

static void sampling_init(void) {
    ADMUX = K_MAIN;
    DIDR0 = 0x0F; /* ADC0-3 analogue only */
    ADCSRA = (1 << ADEN) | ADPS_128; /* a conversion takes 104 us */
    TCCR1A = 0;
    TCCR1B = (1 << WGM12) | (1 << CS11); /* CTC, clk / 8 */
    OCR1A = (uint16_t)(F_CPU / 8 / SLOT_HZ - 1);
    TIMSK1 = (1 << OCIE1A);
}

/* Parked: the CPU clock divided by 16 (the crystal keeps the time), Timer1 and the ADC clock
 * set for the same slot and conversion times, the UART off (the bridge has no power with the
 * Pi). What the datasheet's current figures scale with is the clock. */
static void park(bool on) {
    uint8_t sreg = SREG;
    cli();
    if (on) {
        tx_tail = tx_head; /* nobody reads: what is queued is lost anyway */
        clock_prescale_set(clock_div_16);
        ADCSRA = (uint8_t)((ADCSRA & ~ADPS_128) | ADPS_8);
        OCR1A = (uint16_t)(F_CPU / PARKED_DIV / 8 / PARKED_SLOT_HZ - 1);
        PRR |= (1 << PRUSART0);
    } else {
        PRR &= (uint8_t)~(1 << PRUSART0);
        clock_prescale_set(clock_div_1);
        ADCSRA = (uint8_t)(ADCSRA | ADPS_128);
        OCR1A = (uint16_t)(F_CPU / 8 / SLOT_HZ - 1);
    }
    TCNT1 = 0;
    parked = on;
    SREG = sreg;
}

int main(void) {
    uint8_t cause = MCUSR;
    MCUSR = 0;
    wdt_enable(WDTO_2S);
    clock_prescale_set(clock_div_1);
    DDRD |= (1 << PI_POWER_BIT);
    DDRD &= (uint8_t)~(1 << IGNITION_BIT);
    PRR = (1 << PRTWI) | (1 << PRTIM2) | (1 << PRSPI); /* unused blocks off */
    uart_init();
    /* a power-on or brown-out leaves RAM undefined; any other reset keeps it */
    if (cause & ((1 << PORF) | (1 << BORF)))
        bw_init(&st, &BOARD);
    else
        bw_resume(&st, &BOARD);
    sampling_init();
    set_sleep_mode(SLEEP_MODE_IDLE);
    uint32_t last_ms = 0xFFFFFFFF;
    sei();
    for (;;) {
        wdt_reset();
        bool want_park = st.pi == BW_PI_OFF && !st.fast;
        if (want_park != parked) park(want_park);
        bool busy = false;
        /* a command is taken only when its answer (at most a hello) fits in the buffer */
        while (rx_head != rx_tail && bw_hal_tx_free() >= 96) {
            uint8_t c = rx_buf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) % RX_SIZE);
            bw_rx_byte(&st, c);
            busy = true;
        }
        /* the main loop's work comes at most once a millisecond (parked, every 16: nothing is
         * sent then, and the engine detector works on 100 ms): between, back to sleep */
        uint32_t ms = st.now_ms;
        if (busy || st.closed || (uint32_t)(ms - last_ms) >= (parked ? 16u : 1u)) {
            last_ms = ms;
            if (bw_poll(&st)) busy = true;
        }
        if (busy) continue;
        cli();
        if (rx_head == rx_tail && !st.closed && (uint32_t)(st.now_ms - last_ms) < (parked ? 16u : 1u)) {
            sleep_enable();
            sei();
            sleep_cpu(); /* the next ADC slot (250 us, parked 2 ms) or byte wakes us */
            sleep_disable();
        } else {
            sei();
        }
    }
}
