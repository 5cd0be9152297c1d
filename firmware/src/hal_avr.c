/* The ATmega328P hardware layer (Arduino Nano/Uno at 16 MHz): ADC sampling on Timer1, UART,
 * the Pi's supply switch, idle sleep, watchdog. The only file to replace for another MCU. */
#include <avr/interrupt.h>
#include <avr/io.h>
#include <avr/sleep.h>
#include <avr/wdt.h>
#include <util/atomic.h>

#include "bw_core.h"
#include "bw_hal.h"

/* Analogue front end (firmware/README.md): an external 4.096 V reference on AREF; 12 V tap
 * 1 MOhm / 255 kOhm (20.16 V full scale), SOS tap 1 MOhm / 1.21 MOhm (7.48 V), TMP36-class
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
    .has_pi_switch = true,
};

#define PI_POWER_BIT PD4 /* high: the Pi's 5 V converter is enabled */
#define IGNITION_BIT PD2 /* high: terminal 15 on (through a divider or opto-coupler) */
#define SLOT_HZ 4000     /* ADC conversions per second, over the channels */

static bw_state_t st;

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
/* Four conversions a millisecond: main, sos, main, sos, ... with every 16th slot on the
 * temperature sensor: main 2 kHz, sos 1.75 kHz, temperature 250 Hz. */
static uint8_t slot, slot_ch, started;

static uint8_t channel_of(uint8_t n) {
    if ((n & 15) == 15) return BW_TEMP;
    return (n & 1) ? BW_SOS : BW_MAIN;
}

ISR(TIMER1_COMPA_vect) {
    if (started) bw_sample(&st, slot_ch, ADC); /* the conversion started one slot ago */
    started = 1;
    slot++;
    slot_ch = channel_of(slot);
    ADMUX = slot_ch; /* REFS1:0 = 00: the external reference on AREF, never AVCC */
    ADCSRA |= (1 << ADSC);
    if ((slot & 3) == 0) bw_tick(&st);
}

static void sampling_init(void) {
    ADMUX = BW_MAIN;
    DIDR0 = 0x07;                                                      /* ADC0-2 analogue only */
    ADCSRA = (1 << ADEN) | (1 << ADPS2) | (1 << ADPS1) | (1 << ADPS0); /* 125 kHz: 104 us */
    TCCR1A = 0;
    TCCR1B = (1 << WGM12) | (1 << CS11); /* CTC, clk / 8 */
    OCR1A = (uint16_t)(F_CPU / 8 / SLOT_HZ - 1);
    TIMSK1 = (1 << OCIE1A);
}

int main(void) {
    MCUSR = 0;
    wdt_enable(WDTO_2S);
    DDRD |= (1 << PI_POWER_BIT);
    DDRD &= (uint8_t)~(1 << IGNITION_BIT);
    PRR = (1 << PRTWI) | (1 << PRTIM2) | (1 << PRSPI); /* unused blocks off */
    uart_init();
    bw_init(&st, &BOARD);
    sampling_init();
    set_sleep_mode(SLEEP_MODE_IDLE);
    uint32_t last_ms = 0xFFFFFFFF;
    sei();
    for (;;) {
        wdt_reset();
        bool busy = false;
        /* a command is taken only when its answer (at most a hello) fits in the buffer */
        while (rx_head != rx_tail && bw_hal_tx_free() >= 96) {
            uint8_t c = rx_buf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) % RX_SIZE);
            bw_rx_byte(&st, c);
            busy = true;
        }
        /* the main loop's work comes at most once a millisecond: between, back to sleep */
        uint32_t ms = st.now_ms;
        if (busy || ms != last_ms || st.closed) {
            last_ms = ms;
            if (bw_poll(&st)) busy = true;
        }
        if (busy) continue;
        cli();
        if (rx_head == rx_tail && !st.closed && st.now_ms == last_ms) {
            sleep_enable();
            sei();
            sleep_cpu(); /* the next ADC slot (250 us) or byte wakes us */
            sleep_disable();
        } else {
            sei();
        }
    }
}
